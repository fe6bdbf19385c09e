!> A user's Fortran program, built against an installed carbon-tracker (CMake's
!> carbon_tracker::fortran, or pkg-config's carbon_tracker_fortran by tests/install/fortran/Makefile).
!>   track OUTPUT_DIR
program track
   use carbon_tracker
   implicit none
   type(ct_tracker) :: t
   type(ct_emissions) :: e
   character(len=512) :: out_dir
   integer :: i
   double precision :: x
   call get_command_argument(1, out_dir)
   call t%new('project_name=installed-fortran;country_iso_code=FRA;output_dir='//trim(out_dir))
   call t%start()
   x = 0
   do i = 1, 100
      call t%region_begin('solver')
      x = x + sqrt(dble(i))
      call t%region_end('solver')
   end do
   call t%stop(e)
   print '(a, a, a, es10.3, a, f0.3)', 'carbon-tracker ', carbon_tracker_version(), ' from Fortran: ', e%emissions_kg, &
      ' kg CO2e; x = ', x
   call t%free()
end program track
