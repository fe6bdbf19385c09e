!> Without `stat`, a failure stops the program with the library's message (tests/fortran.rs
!> checks the exit status and standard error).
program error_stop
   use carbon_tracker
   implicit none
   type(ct_tracker) :: t
   call t%new('offline=true;save_to_file=false')
   call t%start()
   call t%region_end('solver')   ! never begun: stops here
   print '(a)', 'not reached'
end program error_stop
