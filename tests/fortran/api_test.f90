!> The Fortran module against the real library: lifecycle, regions in a time-step loop, tasks,
!> progress and predictions (set_progress of every kind, predict, prediction_ready), peek,
!> stat/errmsg on every procedure, strings with trailing blanks, describe, free and the final
!> procedure. Prints key=value lines (tests/fortran.rs checks them); exits 1 on a failed check.
!>   api_test OUT_DIR
program api_test
   use carbon_tracker
   use, intrinsic :: ieee_arithmetic, only: ieee_is_nan
   use, intrinsic :: iso_fortran_env, only: int64
   use, intrinsic :: iso_c_binding, only: c_null_char
   implicit none
   integer :: failures = 0
   type(ct_tracker) :: t
   type(ct_emissions) :: e, task_e, run_e, unused
   type(ct_prediction) :: p, at_20
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
   call t%set_progress(1, 2, stat=st)
   call check(st == CT_ERR_NULL_ARGUMENT, 'set_progress before new')
   call t%predict(p, stat=st)
   call check(st == CT_ERR_NULL_ARGUMENT, 'predict before new')
   call check(p%state == CT_PREDICTION_NO_PROGRESS .and. ieee_is_nan(p%predicted_energy_kwh), 'predict before new: p')
   call t%peek(e, stat=st)
   call check(st == CT_ERR_NULL_ARGUMENT, 'peek before new')
   call check(.not. t%created(), 'not created')
   call t%new('country_iso_code=FRA;no_such_key=1', stat=st, errmsg=msg)
   call check(st == CT_ERR_INVALID_OPTION, 'unknown key: stat')
   call check(index(msg, 'no_such_key') > 0, 'unknown key: errmsg names it')
   ! A NUL would cut the string (offline=true lost): refused, as the C++ binding refuses it.
   call t%new('project_name=a'//c_null_char//'b;offline=true', stat=st, errmsg=msg)
   call check(st == CT_ERR_INVALID_OPTION .and. .not. t%created(), 'NUL in the options: stat')
   call check(msg == 'options: the options string holds a NUL byte (at byte 14)', 'NUL in the options: '//trim(msg))

   ! Options of any length, with trailing blanks (a fixed-length variable).
   ! Budgets: one the run exceeds at once, one it never reaches (each field in its place).
   call t%new('offline=true;country_iso_code=FRA;force_ram_power=10;measure_power_secs=0.02;' // &
              'energy_budget_kwh=1e-12;emissions_budget_kg=1000;' // &
              'experiment_name=fortran;project_name=fortran test;output_dir=' // trim(out_dir) // '     ', stat=st)
   call check(st == CT_OK, 'new')
   call check(t%created(), 'created')
   call t%new('offline=true', stat=st, errmsg=msg)
   call check(st == CT_ERR_INVALID_STATE, 'new twice')
   call t%flush(e, stat=st, errmsg=msg)
   call check(st == CT_ERR_INVALID_STATE, 'flush before start')
   call check(index(msg, 'not started') > 0, 'flush before start: errmsg')
   call t%set_progress(1, 2, stat=st, errmsg=msg)
   call check(st == CT_ERR_INVALID_STATE, 'set_progress before start')
   call t%predict(p, stat=st)
   call check(st == CT_ERR_INVALID_STATE, 'predict before start')
   call t%peek(e, stat=st)
   call check(st == CT_ERR_INVALID_STATE, 'peek before start')
   call t%start()

   ! Before any progress: said, not guessed.
   call t%predict(p)
   call check(p%state == CT_PREDICTION_NO_PROGRESS .and. .not. prediction_ready(p), 'no progress yet')
   call check(ieee_is_nan(p%progress) .and. ieee_is_nan(p%predicted_duration_s), 'no progress: NaN')
   call check(p%energy_budget_kwh == 1d-12 .and. p%emissions_budget_kg == 1000d0, 'budgets')
   call check(p%confidence == 0.9d0, 'confidence')
   call t%set_progress(3, 2, stat=st, errmsg=msg)
   call check(st == CT_ERR_INVALID_OPTION, 'done > total: stat')
   call check(index(msg, 'progress') > 0, 'done > total: errmsg')
   call t%set_progress(0d0, 0d0, stat=st)
   call check(st == CT_ERR_INVALID_OPTION, 'total 0')
   call t%set_progress(0, 30)

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
      call t%set_progress(step, 30)
      if (mod(step, 10) == 0) call t%flush(e)
      if (step == 20) call t%predict(at_20)
   end do
   call check(e%duration_s > 0 .and. e%energy_consumed_kwh > 0, 'flush numbers')
   call check(abs(e%carbon_intensity_g_per_kwh - 56.039d0) < 1d-9, 'intensity of FRA')

   ! At 20 of 30 steps: a prediction, every number in its field.
   call check(prediction_ready(at_20), 'ready at 20 of 30')
   call check(at_20%progress == 20d0 / 30d0, 'progress 20/30')
   call check(at_20%budget_state == CT_BUDGET_EXCEEDED, 'energy budget exceeded')
   call check(at_20%energy_budget_kwh == 1d-12 .and. at_20%emissions_budget_kg == 1000d0, 'budgets at 20')
   call check(at_20%confidence == 0.9d0, 'confidence at 20')
   call check(at_20%measured_duration_s > 0 .and. at_20%measured_energy_kwh > 0 .and. at_20%measured_emissions_kg > 0, &
              'measured')
   call check(at_20%predicted_duration_s >= at_20%measured_duration_s, 'duration not below measured')
   call check(at_20%predicted_energy_kwh >= at_20%measured_energy_kwh, 'energy not below measured')
   call check(at_20%predicted_emissions_kg >= at_20%measured_emissions_kg, 'emissions not below measured')
   call check(at_20%predicted_duration_low_s <= at_20%predicted_duration_s .and. &
              at_20%predicted_duration_s <= at_20%predicted_duration_high_s, 'duration interval')
   call check(at_20%predicted_energy_low_kwh <= at_20%predicted_energy_kwh .and. &
              at_20%predicted_energy_kwh <= at_20%predicted_energy_high_kwh, 'energy interval')
   call check(at_20%predicted_emissions_low_kg <= at_20%predicted_emissions_kg .and. &
              at_20%predicted_emissions_kg <= at_20%predicted_emissions_high_kg, 'emissions interval')
   ! Emissions are energy times France's intensity, in every field that has both.
   call check(abs(at_20%predicted_emissions_kg / at_20%predicted_energy_kwh - 0.056039d0) < 1d-9, 'emissions/energy')
   call check(abs(at_20%measured_emissions_kg / at_20%measured_energy_kwh - 0.056039d0) < 1d-9, 'measured ratio')
   ! time_left_s runs from the call, measured_duration_s to the last measurement (no later).
   call check(at_20%time_left_s >= 0 .and. &
              at_20%measured_duration_s + at_20%time_left_s <= at_20%predicted_duration_s * (1 + 1d-12), 'time left')
   call t%predict(p)
   call check(prediction_ready(p) .and. p%progress == 1d0 .and. p%time_left_s == 0, 'at 30 of 30')

   ! set_progress of every kind: the numbers arrive as given.
   call t%set_progress(15_int64, 30_int64)
   call t%predict(p)
   call check(p%progress == 0.5d0, '64-bit integers')
   call t%set_progress(0.25, 1.0)
   call t%predict(p)
   call check(p%progress == 0.25d0, 'default reals')
   call t%set_progress(0.75d0, 1d0)
   call t%predict(p)
   call check(p%progress == 0.75d0, 'double precision')

   call peek_without_measuring()

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

   !> peek gives the totals of the last measurement and measures nothing (no background
   !> measurement within the hour: the numbers stay those of the last flush).
   subroutine peek_without_measuring()
      type(ct_tracker) :: quiet
      type(ct_emissions) :: flushed, peeked
      call quiet%new('offline=true;save_to_file=false;country_iso_code=FRA;force_ram_power=10;measure_power_secs=3600')
      call quiet%start()
      call busy(0.06d0)   ! flush measures unless the last measurement is under 50 ms old
      call quiet%flush(flushed)
      call busy(0.06d0)
      call quiet%peek(peeked)
      call check(peeked%measurements == flushed%measurements, 'peek: no measurement')
      call check(peeked%energy_consumed_kwh == flushed%energy_consumed_kwh .and. peeked%duration_s == flushed%duration_s, &
                 'peek: the last measurement''s totals')
      call quiet%flush(flushed)
      call check(flushed%measurements == peeked%measurements + 1, 'flush after peek measures')
      call quiet%stop()
      call quiet%peek(peeked, stat=st)
      call check(st == CT_ERR_INVALID_STATE, 'peek after stop')
      call quiet%free()
   end subroutine peek_without_measuring

   !> A local tracker left running: the final procedure stops and frees it on return.
   subroutine scoped(dir)
      character(len=*), intent(in) :: dir
      type(ct_tracker) :: local
      call local%new('offline=true;country_iso_code=FRA;experiment_name=scoped;project_name=scoped;output_dir=' // dir)
      call local%start()
      call local%region_begin('left open')
   end subroutine scoped

end program api_test
