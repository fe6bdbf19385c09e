!> The Fortran module against the real library: lifecycle, regions in a time-step loop, tasks,
!> stat/errmsg on every procedure, strings with trailing blanks, describe, free and the final
!> procedure. Prints key=value lines (tests/fortran.rs checks them); exits 1 on a failed check.
!>   api_test OUT_DIR
program api_test
   use carbon_tracker
   implicit none
   integer :: failures = 0
   type(ct_tracker) :: t
   type(ct_emissions) :: e, task_e, run_e, unused
   integer :: st, step
   character(len=200) :: msg
   character(len=40) :: padded_name
   character(len=512) :: out_dir
   character(len=:), allocatable :: json

   call get_command_argument(1, out_dir)
   msg = 'untouched'

   ! Errors before new: stat and errmsg, nothing stops.
   call t%start(stat=st, errmsg=msg)
   call check(st == CT_ERR_NULL_ARGUMENT, 'start before new: stat')
   call check(index(msg, 'was not created') > 0, 'start before new: errmsg')
   call check(.not. t%created(), 'not created')
   call t%new('country_iso_code=FRA;no_such_key=1', stat=st, errmsg=msg)
   call check(st == CT_ERR_INVALID_OPTION, 'unknown key: stat')
   call check(index(msg, 'no_such_key') > 0, 'unknown key: errmsg names it')

   ! Options of any length, with trailing blanks (a fixed-length variable).
   call t%new('offline=true;country_iso_code=FRA;force_ram_power=10;measure_power_secs=0.02;' // &
              'experiment_name=fortran;project_name=fortran test;output_dir=' // trim(out_dir) // '     ', stat=st)
   call check(st == CT_OK, 'new')
   call check(t%created(), 'created')
   call t%new('offline=true', stat=st, errmsg=msg)
   call check(st == CT_ERR_INVALID_STATE, 'new twice')
   call t%flush(e, stat=st, errmsg=msg)
   call check(st == CT_ERR_INVALID_STATE, 'flush before start')
   call check(index(msg, 'not started') > 0, 'flush before start: errmsg')
   call t%start()

   padded_name = 'solver'   ! 34 trailing blanks: the same region as 'solver'
   do step = 1, 30
      call t%region_begin('step')
      call t%region_begin(padded_name)
      call busy(0.002d0)
      call t%region_end('solver')
      call t%region_begin('halo exchange', stat=st)
      call check(st == CT_OK, 'region_begin with stat')
      call t%region_end('halo exchange')
      call t%region_end('step')
      if (mod(step, 10) == 0) call t%flush(e)
   end do
   call check(e%duration_s > 0 .and. e%energy_consumed_kwh > 0, 'flush numbers')
   call check(abs(e%carbon_intensity_g_per_kwh - 56.039d0) < 1d-9, 'intensity of FRA')

   call t%region_end('never begun', stat=st, errmsg=msg)
   call check(st == CT_ERR_INVALID_STATE, 'region_end not open: stat')
   call check(index(msg, '`never begun` is not open') > 0, 'region_end not open: errmsg')
   call t%region_begin('', stat=st)
   call check(st == CT_ERR_INVALID_OPTION, 'empty region name')
   call t%region_begin(repeat('x', 300), stat=st, errmsg=msg)
   call check(st == CT_ERR_INVALID_OPTION, 'name over 256 bytes')

   call t%start_task('epoch 1   ')
   call busy(0.02d0)
   call t%stop_task('epoch 1', task_e)
   call check(task_e%duration_s >= 0.02d0, 'task duration')
   call t%stop_task('epoch 1', unused, stat=st)
   call check(st == CT_ERR_INVALID_STATE, 'stop_task twice')

   call t%stop(run_e)
   call check(run_e%measurements >= 2, 'measurements')
   call check(run_e%energy_consumed_kwh >= e%energy_consumed_kwh, 'stop after flush')
   call t%region_begin('late', stat=st, errmsg=msg)
   call check(st == CT_ERR_INVALID_STATE, 'region after stop')
   json = t%describe()
   call check(index(json, '"name":"solver"') > 0, 'describe: solver')
   call check(index(json, '"calls":30,') > 0, 'describe: 30 calls')
   call check(index(json, '"state":"stopped"') > 0, 'describe: stopped')
   call t%free()
   call t%free()    ! twice is fine
   call check(.not. t%created(), 'freed')
   call check(len(carbon_tracker_version()) > 0, 'version')

   call scoped(trim(out_dir))

   print '(a, es24.17)', 'run_kwh=', run_e%energy_consumed_kwh
   print '(a, es24.17)', 'task_s=', task_e%duration_s
   print '(a, a)', 'version=', carbon_tracker_version()
   print '(a, i0)', 'failures=', failures
   if (failures > 0) error stop 1

contains

   subroutine check(cond, what)
      logical, intent(in) :: cond
      character(len=*), intent(in) :: what
      if (.not. cond) then
         print '(a, a)', 'CHECK failed: ', what
         failures = failures + 1
      end if
   end subroutine check

   subroutine busy(seconds)
      double precision, intent(in) :: seconds
      integer(8) :: c0, c, rate
      double precision :: x
      x = 0
      call system_clock(c0, rate)
      do
         x = x + sin(x)
         call system_clock(c)
         if (dble(c - c0) / dble(rate) >= seconds) exit
      end do
      if (x < -1d300) print *, x
   end subroutine busy

   !> A local tracker left running: the final procedure stops and frees it on return.
   subroutine scoped(dir)
      character(len=*), intent(in) :: dir
      type(ct_tracker) :: local
      call local%new('offline=true;country_iso_code=FRA;experiment_name=scoped;project_name=scoped;output_dir=' // dir)
      call local%start()
      call local%region_begin('left open')
   end subroutine scoped

end program api_test
