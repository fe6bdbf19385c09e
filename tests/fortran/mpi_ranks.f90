!> One rank of an MPI job in Fortran (built with mpif90 and run with `mpirun -np 4` by
!> tests/cluster.rs): every rank runs WORK_S / 25 ms time steps with regions (a collective in each,
!> so all ranks run the same number of steps) with the
!> options of argument 1; rank 0 also runs a reference tracker outside the job's coordination
!> (argument 2: job_count_node_once=false), started before and stopped after every rank's (a
!> barrier between: the ranks' windows lie inside its own), so it measures the whole machine
!> over the whole job and a little more (tests/cluster.rs allows for that time). Each rank
!> prints `rank=R key=value ...`; rank 0 then prints `reference ...`.
!>   mpi_ranks OPTIONS REFERENCE_OPTIONS WORK_S
program mpi_ranks
   use mpi
   use carbon_tracker
   implicit none
   type(ct_tracker) :: t, ref
   type(ct_emissions) :: e, r
   character(len=2048) :: options, ref_options, arg
   character(len=:), allocatable :: json
   integer :: rank, ierr, steps, step
   double precision :: work_s, x
   logical :: counts_node

   call get_command_argument(1, options)
   call get_command_argument(2, ref_options)
   call get_command_argument(3, arg)
   read (arg, *) work_s
   call MPI_Init(ierr)
   call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)

   call t%new(options)
   json = t%describe()          ! probes the hardware before the clock starts
   if (rank == 0) call ref%new(ref_options)
   if (rank == 0) call ref%start()
   call MPI_Barrier(MPI_COMM_WORLD, ierr)   ! the reference runs before any rank's tracker starts
   call t%start()

   steps = max(1, nint(work_s / 0.025d0))
   x = 1
   do step = 1, steps
      call t%region_begin('step')
      call t%region_begin('solver')
      call spin(0.02d0)
      call t%region_end('solver')
      call t%region_begin('halo exchange')
      call MPI_Allreduce(MPI_IN_PLACE, x, 1, MPI_DOUBLE_PRECISION, MPI_MAX, MPI_COMM_WORLD, ierr)
      call t%region_end('halo exchange')
      call t%region_end('step')
   end do

   call MPI_Barrier(MPI_COMM_WORLD, ierr)   ! every rank running: the roles are settled
   json = t%describe()
   counts_node = index(json, '"counts_node_now":true') > 0
   call MPI_Barrier(MPI_COMM_WORLD, ierr)
   call t%stop(e)
   call t%free()
   call MPI_Barrier(MPI_COMM_WORLD, ierr)   ! every rank's tracker stopped before the reference stops
   if (rank == 0) call ref%stop(r)
   print '(a, i0, a, i0, a, l1, 4(a, es24.17))', 'rank=', rank, ' steps=', steps, ' counts_node=', counts_node, &
      ' duration_s=', e%duration_s, ' cpu_kwh=', e%cpu_energy_kwh, ' ram_kwh=', e%ram_energy_kwh, &
      ' energy_kwh=', e%energy_consumed_kwh
   flush (6)
   call MPI_Barrier(MPI_COMM_WORLD, ierr)
   if (rank == 0) then
      print '(2(a, es24.17))', 'reference duration_s=', r%duration_s, ' energy_kwh=', r%energy_consumed_kwh
      flush (6)
      call ref%free()
   end if
   call MPI_Finalize(ierr)

contains

   subroutine spin(seconds)
      double precision, intent(in) :: seconds
      double precision :: until, y
      until = MPI_Wtime() + seconds
      y = 0
      do while (MPI_Wtime() < until)
         y = y + sin(y + 1)
      end do
      if (y < -1d300) print *, y
   end subroutine spin

end program mpi_ranks
