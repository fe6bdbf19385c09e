!> A Fortran "simulation": a time step with phases (regions: solver, halo exchange, output),
!> its progress at every step, the emissions so far and the prediction at completion every 50
!> steps, the totals at the end.
!>   bash examples/fortran/run.sh [STEPS [OUTPUT_DIR]]
program simulation
   use carbon_tracker
   implicit none
   type(ct_tracker) :: tracker
   type(ct_emissions) :: e
   type(ct_prediction) :: p
   integer :: step, steps, stat
   character(len=512) :: arg, out_dir, errmsg
   double precision :: state

   steps = 200
   out_dir = 'target/examples'
   if (command_argument_count() >= 1) then
      call get_command_argument(1, arg)
      read (arg, *) steps
   end if
   if (command_argument_count() >= 2) call get_command_argument(2, out_dir)

   ! Errors stop the program with the library's message, unless `stat` is given:
   call tracker%new('project_name=fortran-simulation;country_iso_code=FRA;measure_power_secs=1;output_dir='// &
                    trim(out_dir), stat=stat, errmsg=errmsg)
   if (stat /= CT_OK) then
      print '(a)', 'cannot track: '//trim(errmsg)
      stop 1
   end if
   call tracker%start()
   state = 0
   do step = 1, steps
      call tracker%region_begin('step')
      call tracker%region_begin('solver')
      state = state + solve(step)
      call tracker%region_end('solver')
      call tracker%region_begin('halo exchange')
      state = exchange(state)
      call tracker%region_end('halo exchange')
      call tracker%set_progress(step, steps)   ! every step: no measurement, no I/O
      if (mod(step, 50) == 0) then
         call tracker%region_begin('output')
         call tracker%flush(e)           ! a CSV row, and the region file rewritten
         print '(a, i4, a, f7.3, a, es10.3, a, es10.3, a)', 'step ', step, ': ', e%duration_s, ' s, ', &
            e%energy_consumed_kwh, ' kWh, ', e%emissions_kg, ' kg CO2e'
         call tracker%predict(p)         ! the totals at completion, with a 90 % interval
         if (prediction_ready(p)) print '(a, es10.3, a, es10.3, a, es10.3, a, f7.2, a)', &
            '   predicted at the end: ', p%predicted_emissions_kg, ' kg CO2e [', p%predicted_emissions_low_kg, ', ', &
            p%predicted_emissions_high_kg, '], ', p%time_left_s, ' s left'
         call tracker%region_end('output')
      end if
      call tracker%region_end('step')
   end do
   call tracker%stop(e)
   print '(a, f0.3, a, f6.3, a, es10.3, a, es10.3, a, f0.3, a)', 'done (state ', state, '): ', e%duration_s, ' s, ', &
      e%energy_consumed_kwh, ' kWh, ', e%emissions_kg, ' kg CO2e at ', e%carbon_intensity_g_per_kwh, ' g/kWh'
   print '(a)', 'rows in '//trim(out_dir)//'/emissions.csv, regions in '//trim(out_dir)//'/regions_base_<run_id>.csv'
   call tracker%free()

contains

   double precision function solve(i)   ! the solver phase of a toy model
      integer, intent(in) :: i
      integer :: k
      solve = 0
      do k = 1, 150000
         solve = solve + sin(i + k * 1d-3) / k
      end do
   end function solve

   double precision function exchange(x)   ! stands for a halo exchange
      double precision, intent(in) :: x
      integer :: k
      exchange = x
      do k = 1, 30000
         exchange = mod(exchange * 1.000001d0 + k, 1d6)
      end do
   end function exchange

end program simulation
