!> Predictions and budgets through the Fortran module on a load whose answer is known: forced
!> powers (RAM 100 W, CPU 1 mW, France) and 100 steps of 10 s on the test builds' clock
!> (ct_test_advance_clock_s, exported only by builds with the test-hooks feature: tests/fortran.rs
!> links this program to the cdylib of `cargo test`; ctest does not build it). A steady run is
!> predicted within 2 % (exactly, in fact) at 25, 50 and 75 %, every field of ct_prediction in its
!> place; the budget (25 Wh of the run's 27.8 Wh) goes below, predicted to exceed, exceeded.
!> Prints key=value lines and the prediction table; exits 1 on a failed check.
program prediction_test
   use carbon_tracker
   use, intrinsic :: iso_c_binding, only: c_double
   implicit none
   interface
      subroutine advance_clock_s(seconds) bind(c, name="ct_test_advance_clock_s")
         import :: c_double
         real(c_double), value :: seconds
      end subroutine advance_clock_s
   end interface
   integer, parameter :: STEPS = 100
   integer :: failures = 0, k, n_states = 0, i
   integer :: states(8)
   type(ct_tracker) :: t
   type(ct_prediction) :: p, at(3)
   type(ct_emissions) :: e

   call t%new('offline=true;save_to_file=false;country_iso_code=FRA;force_ram_power=100;force_cpu_power=0.001;' // &
              'measure_power_secs=86400;energy_budget_kwh=0.025;emissions_budget_kg=5')
   call t%start()
   call t%set_progress(0, STEPS)
   do k = 1, STEPS
      call advance_clock_s(10d0)
      call t%set_progress(k, STEPS)
      call t%predict(p)
      if (mod(k, 25) == 0 .and. k < STEPS) at(k / 25) = p
      if (n_states == 0) then
         call push(p%budget_state)
      else if (states(n_states) /= p%budget_state) then
         call push(p%budget_state)
      end if
   end do
   call t%stop(e)
   call t%free()
   i = 0

   call check(n_states == 3, 'three budget states')
   call check(all(states(1:3) == [CT_BUDGET_BELOW, CT_BUDGET_PREDICTED_TO_EXCEED, CT_BUDGET_EXCEEDED]), 'budget states')
   print '(a)', '| progress | duration predicted [90 % interval] | real | energy predicted [interval] | real |'
   do i = 1, 3
      associate (q => at(i))
         print '(a, i0, a, 3(f0.1, a), f0.1, a, 3(f0.3, a), f0.3, a)', '| ', 25 * i, ' % | ', q%predicted_duration_s, &
            ' s [', q%predicted_duration_low_s, ', ', q%predicted_duration_high_s, '] | ', e%duration_s, ' s | ', &
            q%predicted_energy_kwh * 1d3, ' Wh [', q%predicted_energy_low_kwh * 1d3, ', ', &
            q%predicted_energy_high_kwh * 1d3, '] | ', e%energy_consumed_kwh * 1d3, ' Wh |'
         call check(prediction_ready(q), 'ready')
         call check(q%progress == 0.25d0 * i, 'progress')
         call check(abs(q%measured_duration_s - 250d0 * i) < 1, 'measured duration')
         call check(abs(q%measured_energy_kwh / e%energy_consumed_kwh - 0.25d0 * i) < 0.01, 'measured energy')
         call check(abs(q%measured_emissions_kg / e%emissions_kg - 0.25d0 * i) < 0.01, 'measured emissions')
         call check(abs(q%predicted_duration_s / e%duration_s - 1) < 0.02, 'duration')
         call check(abs(q%predicted_energy_kwh / e%energy_consumed_kwh - 1) < 0.02, 'energy')
         call check(abs(q%predicted_emissions_kg / e%emissions_kg - 1) < 0.02, 'emissions')
         call check(abs(q%time_left_s - 250d0 * (4 - i)) < 1, 'time left')
         call check(covers(q%predicted_duration_low_s, q%predicted_duration_high_s, e%duration_s), 'duration interval')
         call check(covers(q%predicted_energy_low_kwh, q%predicted_energy_high_kwh, e%energy_consumed_kwh), &
                    'energy interval')
         call check(covers(q%predicted_emissions_low_kg, q%predicted_emissions_high_kg, e%emissions_kg), &
                    'emissions interval')
         ! The interval narrows as the run goes.
         if (i > 1) call check(q%predicted_energy_high_kwh - q%predicted_energy_low_kwh < &
                               at(i - 1)%predicted_energy_high_kwh - at(i - 1)%predicted_energy_low_kwh, 'narrows')
         call check(q%confidence == 0.9d0, 'confidence')
         call check(q%energy_budget_kwh == 0.025d0 .and. q%emissions_budget_kg == 5d0, 'budgets')
      end associate
   end do
   print '(a, es24.17)', 'real_s=', e%duration_s
   print '(a, es24.17)', 'predicted_s_at_50=', at(2)%predicted_duration_s
   print '(a, i0)', 'failures=', failures
   if (failures > 0) error stop 1

contains

   subroutine push(state)
      integer, intent(in) :: state
      if (n_states < size(states)) then
         n_states = n_states + 1
         states(n_states) = state
      end if
   end subroutine push

   logical function covers(low, high, v)
      real(c_double), intent(in) :: low, high, v
      covers = low <= v .and. v <= high
   end function covers

   subroutine check(cond, what)
      logical, intent(in) :: cond
      character(len=*), intent(in) :: what
      if (.not. cond) then
         print '(a, a, a, i0)', 'CHECK failed: ', what, ' at ', i
         failures = failures + 1
      end if
   end subroutine check

end program prediction_test
