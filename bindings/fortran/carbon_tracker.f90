!> carbon-tracker for Fortran 2008: the energy use and carbon emissions of the program, through
!> the carbon-tracker library's C ABI (carbon_tracker.h) with iso_c_binding.
!>
!>     use carbon_tracker
!>     type(ct_tracker) :: tracker
!>     type(ct_emissions) :: e
!>     type(ct_prediction) :: p
!>     call tracker%new('project_name=sim;country_iso_code=FRA')
!>     call tracker%start()
!>     do step = 1, n_steps
!>        call tracker%region_begin('solver')     ! regions: cheap, accumulated per name
!>        call solve(step)
!>        call tracker%region_end('solver')
!>        call tracker%set_progress(step, n_steps)  ! cheap: every step
!>        if (mod(step, 100) == 0) then
!>           call tracker%predict(p)                ! the totals predicted at completion
!>           if (prediction_ready(p)) print *, p%predicted_emissions_kg, ' kg CO2e at the end'
!>        end if
!>     end do
!>     call tracker%stop(e)
!>     print *, e%emissions_kg, ' kg CO2e'
!>     call tracker%free()
!>
!> Every procedure takes optional `stat` and `errmsg` arguments, as Fortran's ALLOCATE does:
!> with `stat`, a failure sets it to the library's status (CT_ERR_*; CT_OK on success) and
!> `errmsg`, if present, to the message; without `stat`, a failure writes the message to the
!> error unit and stops the program (ERROR STOP). Strings (options, task and region names) may
!> have any length; trailing blanks are ignored, so fixed-length CHARACTER variables work.
!> A ct_tracker owns a native tracker: `free` (or leaving the scope of a local variable, through
!> the final procedure) stops a running tracker, writing its last CSV row, and releases it.
!> Variables of the main program are not finalized by Fortran: call `stop` or `free` before the
!> program ends. A ct_tracker cannot be copied by assignment (two owners); pass it by reference.
module carbon_tracker
   use, intrinsic :: iso_c_binding, only: c_associated, c_char, c_double, c_f_pointer, c_float, c_int, c_int32_t, &
                                          c_int64_t, c_null_char, c_null_ptr, c_ptr, c_size_t, c_sizeof
   use, intrinsic :: iso_fortran_env, only: error_unit
   use, intrinsic :: ieee_arithmetic, only: ieee_quiet_nan, ieee_value
   implicit none
   private

   public :: ct_tracker, ct_emissions, ct_prediction, carbon_tracker_version, prediction_ready

   !> ct_status of carbon_tracker.h (tests/fortran.rs checks the values against the header).
   integer, parameter, public :: CT_OK = 0
   integer, parameter, public :: CT_ERR_NULL_ARGUMENT = 1
   integer, parameter, public :: CT_ERR_INVALID_OPTION = 2
   integer, parameter, public :: CT_ERR_INVALID_STATE = 3
   integer, parameter, public :: CT_ERR_IO = 4
   integer, parameter, public :: CT_ERR_HARDWARE = 5
   integer, parameter, public :: CT_ERR_NETWORK = 6
   integer, parameter, public :: CT_ERR_PANIC = 7

   !> ct_prediction_state: whether a prediction's numbers are there (NaN otherwise).
   integer, parameter, public :: CT_PREDICTION_NO_PROGRESS = 0
   integer, parameter, public :: CT_PREDICTION_NOT_ENOUGH_EVIDENCE = 1
   integer, parameter, public :: CT_PREDICTION_READY = 2

   !> ct_budget_state: the run against its budgets (options energy_budget_kwh, emissions_budget_kg).
   integer, parameter, public :: CT_BUDGET_NONE = 0
   integer, parameter, public :: CT_BUDGET_BELOW = 1
   integer, parameter, public :: CT_BUDGET_PREDICTED_TO_EXCEED = 2
   integer, parameter, public :: CT_BUDGET_EXCEEDED = 3

   !> The numbers of a run, a flush or a task: ct_emissions of carbon_tracker.h, field for field
   !> (tests/fortran.rs checks them against the header). Energies in kWh (PUE included), powers
   !> in W (means), emissions in kg CO2e, water in litres, utilisation in %.
   type, bind(c), public :: ct_emissions
      integer(c_int32_t) :: struct_size
      real(c_double) :: duration_s
      real(c_double) :: emissions_kg
      real(c_double) :: emissions_rate_kg_per_s
      real(c_double) :: cpu_power_w
      real(c_double) :: gpu_power_w
      real(c_double) :: ram_power_w
      real(c_double) :: cpu_energy_kwh
      real(c_double) :: gpu_energy_kwh
      real(c_double) :: ram_energy_kwh
      real(c_double) :: energy_consumed_kwh
      real(c_double) :: water_consumed_l
      real(c_double) :: cpu_utilization_percent
      real(c_double) :: gpu_utilization_percent
      real(c_double) :: ram_utilization_percent
      real(c_double) :: ram_used_gb
      real(c_double) :: carbon_intensity_g_per_kwh
      real(c_double) :: pue
      integer(c_int64_t) :: measurements
   end type ct_emissions

   !> A run's predicted totals at completion (100 % progress) and its budget state: ct_prediction
   !> of carbon_tracker.h, field for field (tests/fortran.rs checks them against the header; the
   !> header documents the method). `state` is a CT_PREDICTION_* value, `budget_state` a
   !> CT_BUDGET_* value; numbers that are not known are NaN (see prediction_ready). Durations in
   !> s, energies in kWh, emissions in kg CO2e; `progress` 0 to 1; the intervals' `confidence` 0.9.
   type, bind(c), public :: ct_prediction
      integer(c_int32_t) :: struct_size
      integer(c_int) :: state
      integer(c_int) :: budget_state
      real(c_double) :: progress
      real(c_double) :: measured_duration_s
      real(c_double) :: measured_energy_kwh
      real(c_double) :: measured_emissions_kg
      real(c_double) :: predicted_duration_s
      real(c_double) :: predicted_duration_low_s
      real(c_double) :: predicted_duration_high_s
      real(c_double) :: predicted_energy_kwh
      real(c_double) :: predicted_energy_low_kwh
      real(c_double) :: predicted_energy_high_kwh
      real(c_double) :: predicted_emissions_kg
      real(c_double) :: predicted_emissions_low_kg
      real(c_double) :: predicted_emissions_high_kg
      real(c_double) :: time_left_s
      real(c_double) :: confidence
      real(c_double) :: energy_budget_kwh
      real(c_double) :: emissions_budget_kg
   end type ct_prediction

   !> Names longer than this are refused by the library (bytes).
   integer, parameter :: MAX_NAME = 256

   !> A tracker. `new` creates the native tracker; the other procedures act on it.
   type :: ct_tracker
      private
      type(c_ptr) :: handle = c_null_ptr
   contains
      procedure :: new => tracker_new
      procedure :: start => tracker_start
      procedure :: flush => tracker_flush
      procedure :: stop => tracker_stop
      procedure :: start_task => tracker_start_task
      procedure :: stop_task => tracker_stop_task
      procedure :: peek => tracker_peek
      procedure, private :: tracker_set_progress_r8, tracker_set_progress_r4, tracker_set_progress_i4, &
         tracker_set_progress_i8
      generic :: set_progress => tracker_set_progress_r8, tracker_set_progress_r4, tracker_set_progress_i4, &
         tracker_set_progress_i8
      procedure :: predict => tracker_predict
      procedure :: region_begin => tracker_region_begin
      procedure :: region_end => tracker_region_end
      procedure :: describe => tracker_describe
      procedure :: free => tracker_free
      procedure :: created => tracker_created
      procedure, private :: tracker_assign
      generic :: assignment(=) => tracker_assign
      final :: tracker_final
   end type ct_tracker

   interface
      function c_new(options, out) bind(c, name="ct_tracker_new") result(s)
         import :: c_char, c_ptr, c_int
         character(kind=c_char), dimension(*), intent(in) :: options
         type(c_ptr), intent(out) :: out
         integer(c_int) :: s
      end function c_new
      function c_start(t) bind(c, name="ct_tracker_start") result(s)
         import :: c_ptr, c_int
         type(c_ptr), value :: t
         integer(c_int) :: s
      end function c_start
      function c_flush(t, out) bind(c, name="ct_tracker_flush") result(s)
         import :: c_ptr, c_int, ct_emissions
         type(c_ptr), value :: t
         type(ct_emissions), intent(inout) :: out
         integer(c_int) :: s
      end function c_flush
      function c_stop(t, out) bind(c, name="ct_tracker_stop") result(s)
         import :: c_ptr, c_int, ct_emissions
         type(c_ptr), value :: t
         type(ct_emissions), intent(inout) :: out
         integer(c_int) :: s
      end function c_stop
      function c_start_task(t, name) bind(c, name="ct_tracker_start_task") result(s)
         import :: c_ptr, c_int, c_char
         type(c_ptr), value :: t
         character(kind=c_char), dimension(*), intent(in) :: name
         integer(c_int) :: s
      end function c_start_task
      function c_stop_task(t, name, out) bind(c, name="ct_tracker_stop_task") result(s)
         import :: c_ptr, c_int, c_char, ct_emissions
         type(c_ptr), value :: t
         character(kind=c_char), dimension(*), intent(in) :: name
         type(ct_emissions), intent(inout) :: out
         integer(c_int) :: s
      end function c_stop_task
      function c_region_begin(t, name) bind(c, name="ct_tracker_region_begin") result(s)
         import :: c_ptr, c_int, c_char
         type(c_ptr), value :: t
         character(kind=c_char), dimension(*), intent(in) :: name
         integer(c_int) :: s
      end function c_region_begin
      function c_region_end(t, name) bind(c, name="ct_tracker_region_end") result(s)
         import :: c_ptr, c_int, c_char
         type(c_ptr), value :: t
         character(kind=c_char), dimension(*), intent(in) :: name
         integer(c_int) :: s
      end function c_region_end
      function c_peek(t, out) bind(c, name="ct_tracker_peek") result(s)
         import :: c_ptr, c_int, ct_emissions
         type(c_ptr), value :: t
         type(ct_emissions), intent(inout) :: out
         integer(c_int) :: s
      end function c_peek
      function c_set_progress(t, done, total) bind(c, name="ct_tracker_set_progress") result(s)
         import :: c_ptr, c_int, c_double
         type(c_ptr), value :: t
         real(c_double), value :: done, total
         integer(c_int) :: s
      end function c_set_progress
      function c_predict(t, out) bind(c, name="ct_tracker_predict") result(s)
         import :: c_ptr, c_int, ct_prediction
         type(c_ptr), value :: t
         type(ct_prediction), intent(inout) :: out
         integer(c_int) :: s
      end function c_predict
      function c_json(t) bind(c, name="ct_tracker_json") result(p)
         import :: c_ptr
         type(c_ptr), value :: t
         type(c_ptr) :: p
      end function c_json
      subroutine c_string_free(p) bind(c, name="ct_string_free")
         import :: c_ptr
         type(c_ptr), value :: p
      end subroutine c_string_free
      subroutine c_free(t) bind(c, name="ct_tracker_free")
         import :: c_ptr
         type(c_ptr), value :: t
      end subroutine c_free
      function c_last_error() bind(c, name="ct_last_error") result(p)
         import :: c_ptr
         type(c_ptr) :: p
      end function c_last_error
      function c_last_status() bind(c, name="ct_last_status") result(s)
         import :: c_int
         integer(c_int) :: s
      end function c_last_status
      function c_version() bind(c, name="ct_version") result(p)
         import :: c_ptr
         type(c_ptr) :: p
      end function c_version
      function c_strlen(p) bind(c, name="strlen") result(n)
         import :: c_ptr, c_size_t
         type(c_ptr), value :: p
         integer(c_size_t) :: n
      end function c_strlen
   end interface

contains

   !> A NUL-terminated C string pointed to by `p`, as a Fortran string ('' for NULL).
   function from_c(p) result(s)
      type(c_ptr), intent(in) :: p
      character(len=:), allocatable :: s
      character(kind=c_char), pointer :: chars(:)
      integer :: i, n
      if (.not. c_associated(p)) then
         s = ''
         return
      end if
      n = int(c_strlen(p))
      call c_f_pointer(p, chars, [n])
      allocate (character(len=n) :: s)
      do i = 1, n
         s(i:i) = chars(i)
      end do
   end function from_c

   !> `s` without its trailing blanks, NUL-terminated.
   pure function to_c(s) result(c)
      character(len=*), intent(in) :: s
      character(kind=c_char, len=:), allocatable :: c
      c = s(1:len_trim(s))//c_null_char
   end function to_c

   !> `s` without its trailing blanks into `buf` (at least len_trim(s) + 1 long), NUL-terminated:
   !> region boundaries copy their name there, with no allocation.
   pure subroutine copy_to_c(s, buf)
      character(len=*), intent(in) :: s
      character(kind=c_char), intent(out) :: buf(:)
      integer :: i, n
      n = len_trim(s)
      do i = 1, n
         buf(i) = s(i:i)
      end do
      buf(n + 1) = c_null_char
   end subroutine copy_to_c

   !> The library's version, e.g. "0.1.0".
   function carbon_tracker_version() result(v)
      character(len=:), allocatable :: v
      v = from_c(c_version())
   end function carbon_tracker_version

   !> Ends a call: `status` goes to `stat` (when present) and the message to `errmsg`; without
   !> `stat`, a failure stops the program with the message. `message` replaces the library's.
   subroutine finish(status, stat, errmsg, message)
      integer(c_int), intent(in) :: status
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      character(len=*), intent(in), optional :: message
      character(len=:), allocatable :: text
      if (present(stat)) stat = int(status)
      if (status == CT_OK) return
      if (present(message)) then
         text = message
      else
         text = from_c(c_last_error())
      end if
      if (present(stat)) then
         if (present(errmsg)) errmsg = text
         return
      end if
      write (error_unit, '(a, i0, a)') 'carbon_tracker: error ', status, ': '//text
      flush (error_unit)
      error stop
   end subroutine finish

   !> `n` in decimal, without blanks.
   pure function itoa(n) result(s)
      integer, intent(in) :: n
      character(len=:), allocatable :: s
      character(len=12) :: buf
      write (buf, '(i0)') n
      s = trim(buf)
   end function itoa

   !> False (after finish) when the tracker has no native tracker.
   logical function live(this, stat, errmsg)
      class(ct_tracker), intent(in) :: this
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      live = c_associated(this%handle)
      if (.not. live) call finish(int(CT_ERR_NULL_ARGUMENT, c_int), stat, errmsg, &
                                  'the ct_tracker was not created (call tracker%new first) or was freed')
   end function live

   !> Creates the native tracker. `options`: `key=value` pairs separated by `;` with
   !> CodeCarbon's config keys (`\;` for a literal `;`), e.g. 'project_name=sim;country_iso_code=FRA';
   !> absent: the defaults, the CODECARBON_* environment variables and .codecarbon.config files.
   !> A tracker that was created already is CT_ERR_INVALID_STATE (free it first).
   subroutine tracker_new(this, options, stat, errmsg)
      class(ct_tracker), intent(inout) :: this
      character(len=*), intent(in), optional :: options
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      if (c_associated(this%handle)) then
         call finish(int(CT_ERR_INVALID_STATE, c_int), stat, errmsg, 'the ct_tracker was created already; free it first')
         return
      end if
      if (present(options)) then
         if (index(options, c_null_char) > 0) then   ! C would cut the string there, losing the rest
            call finish(int(CT_ERR_INVALID_OPTION, c_int), stat, errmsg, &
                        'options: the options string holds a NUL byte (at byte '//itoa(index(options, c_null_char) - 1)//')')
            return
         end if
         call finish(c_new(to_c(options), this%handle), stat, errmsg)
      else
         call finish(c_new(c_null_char, this%handle), stat, errmsg)
      end if
   end subroutine tracker_new

   !> Starts measuring (the first start in the process probes the hardware).
   subroutine tracker_start(this, stat, errmsg)
      class(ct_tracker), intent(inout) :: this
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      if (.not. live(this, stat, errmsg)) return
      call finish(c_start(this%handle), stat, errmsg)
   end subroutine tracker_start

   !> A ct_emissions with its struct_size set.
   function fresh() result(e)
      type(ct_emissions) :: e
      e = ct_emissions(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
      e%struct_size = int(c_sizeof(e), c_int32_t)
   end function fresh

   !> The totals as of the last measurement in `e`, without measuring or writing anything (the
   !> background measurements, every measure_power_secs, keep them fresh): for a live display.
   subroutine tracker_peek(this, e, stat, errmsg)
      class(ct_tracker), intent(in) :: this
      type(ct_emissions), intent(out) :: e
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      e = fresh()
      if (.not. live(this, stat, errmsg)) return
      call finish(c_peek(this%handle, e), stat, errmsg)
   end subroutine tracker_peek

   !> Measures, writes a CSV row, and gives the totals since start in `e`. With CT_ERR_IO (the
   !> CSV could not be written) `e` is still filled and nothing measured is lost.
   subroutine tracker_flush(this, e, stat, errmsg)
      class(ct_tracker), intent(inout) :: this
      type(ct_emissions), intent(out), optional :: e
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      call report(this, .false., e, stat, errmsg)
   end subroutine tracker_flush

   !> Measures the last interval, writes the final row, gives the totals in `e` and stops (a
   !> stopped tracker cannot restart; regions and tasks still open end here).
   subroutine tracker_stop(this, e, stat, errmsg)
      class(ct_tracker), intent(inout) :: this
      type(ct_emissions), intent(out), optional :: e
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      call report(this, .true., e, stat, errmsg)
   end subroutine tracker_stop

   !> flush (`last` false) and stop: `e` is filled even when an output failed.
   subroutine report(this, last, e, stat, errmsg)
      class(ct_tracker), intent(inout) :: this
      logical, intent(in) :: last
      type(ct_emissions), intent(out), optional :: e
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      type(ct_emissions) :: out
      integer(c_int) :: s
      out = fresh()
      if (present(e)) e = out
      if (.not. live(this, stat, errmsg)) return
      if (last) then
         s = c_stop(this%handle, out)
      else
         s = c_flush(this%handle, out)
      end if
      if (present(e)) e = out
      call finish(s, stat, errmsg)
   end subroutine report

   !> Starts the task `name` (CodeCarbon's start_task; starts the tracker if needed).
   subroutine tracker_start_task(this, name, stat, errmsg)
      class(ct_tracker), intent(inout) :: this
      character(len=*), intent(in) :: name
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      if (.not. live(this, stat, errmsg)) return
      call finish(c_start_task(this%handle, to_c(name)), stat, errmsg)
   end subroutine tracker_start_task

   !> Stops the task `name` and gives its own numbers in `e`; its row goes to the task file.
   subroutine tracker_stop_task(this, name, e, stat, errmsg)
      class(ct_tracker), intent(inout) :: this
      character(len=*), intent(in) :: name
      type(ct_emissions), intent(out), optional :: e
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      type(ct_emissions) :: out
      integer(c_int) :: s
      out = fresh()
      if (present(e)) e = out
      if (.not. live(this, stat, errmsg)) return
      s = c_stop_task(this%handle, to_c(name), out)
      if (present(e)) e = out
      call finish(s, stat, errmsg)
   end subroutine tracker_stop_task

   !> Begins a call of the region `name` (a part of the time step entered many times): no
   !> measurement, well under a microsecond. Calls accumulate per name; regions may nest and
   !> overlap, and be open in several threads (OpenMP) at once.
   subroutine tracker_region_begin(this, name, stat, errmsg)
      class(ct_tracker), intent(in) :: this
      character(len=*), intent(in) :: name
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      call boundary(this, .true., name, stat, errmsg)
   end subroutine tracker_region_begin

   !> Ends a call of the region `name` (the latest begun on this thread).
   subroutine tracker_region_end(this, name, stat, errmsg)
      class(ct_tracker), intent(in) :: this
      character(len=*), intent(in) :: name
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      call boundary(this, .false., name, stat, errmsg)
   end subroutine tracker_region_end

   !> region_begin (`begin` true) and region_end: the name is copied to the stack, no allocation.
   subroutine boundary(this, begin, name, stat, errmsg)
      class(ct_tracker), intent(in) :: this
      logical, intent(in) :: begin
      character(len=*), intent(in) :: name
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      character(kind=c_char) :: buf(MAX_NAME + 1)
      integer(c_int) :: s
      if (.not. live(this, stat, errmsg)) return
      if (len_trim(name) > MAX_NAME) then   ! passed whole: the library refuses it, with its message
         if (begin) then
            s = c_region_begin(this%handle, to_c(name))
         else
            s = c_region_end(this%handle, to_c(name))
         end if
      else
         call copy_to_c(name, buf)
         if (begin) then
            s = c_region_begin(this%handle, buf)
         else
            s = c_region_end(this%handle, buf)
         end if
      end if
      if (s /= CT_OK .or. present(stat)) call finish(s, stat, errmsg)
   end subroutine boundary

   !> Reports progress: `done` steps out of `total` (1 when `done` is a fraction), both of the
   !> same kind: default or double precision real, 32- or 64-bit integer. Cheap enough for every
   !> step (no measurement, no I/O). `done` lower than before is a rollback; `total` may change.
   !> Not finite, `total` <= 0 or `done` outside 0..`total`: CT_ERR_INVALID_OPTION, nothing recorded.
   subroutine tracker_set_progress_r8(this, done, total, stat, errmsg)
      class(ct_tracker), intent(in) :: this
      real(c_double), intent(in) :: done, total
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      call progress(this, done, total, stat, errmsg)
   end subroutine tracker_set_progress_r8

   subroutine tracker_set_progress_r4(this, done, total, stat, errmsg)
      class(ct_tracker), intent(in) :: this
      real(c_float), intent(in) :: done, total
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      call progress(this, real(done, c_double), real(total, c_double), stat, errmsg)
   end subroutine tracker_set_progress_r4

   subroutine tracker_set_progress_i4(this, done, total, stat, errmsg)
      class(ct_tracker), intent(in) :: this
      integer(c_int32_t), intent(in) :: done, total
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      call progress(this, real(done, c_double), real(total, c_double), stat, errmsg)
   end subroutine tracker_set_progress_i4

   subroutine tracker_set_progress_i8(this, done, total, stat, errmsg)
      class(ct_tracker), intent(in) :: this
      integer(c_int64_t), intent(in) :: done, total
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      call progress(this, real(done, c_double), real(total, c_double), stat, errmsg)
   end subroutine tracker_set_progress_i8

   !> set_progress of every kind.
   subroutine progress(this, done, total, stat, errmsg)
      class(ct_tracker), intent(in) :: this
      real(c_double), intent(in) :: done, total
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      integer(c_int) :: s
      if (.not. live(this, stat, errmsg)) return
      s = c_set_progress(this%handle, done, total)
      if (s /= CT_OK .or. present(stat)) call finish(s, stat, errmsg)
   end subroutine progress

   !> The run's predicted totals at completion and its budget state in `p` (struct_size is set
   !> here). Measures first unless the last measurement is under 50 ms old; writes nothing. Not
   !> enough evidence yet is not an error: `p%state` says so and the predicted numbers are NaN.
   !> On failure `p` has state CT_PREDICTION_NO_PROGRESS, budget_state CT_BUDGET_NONE and NaN numbers.
   subroutine tracker_predict(this, p, stat, errmsg)
      class(ct_tracker), intent(inout) :: this
      type(ct_prediction), intent(out) :: p
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      real(c_double) :: nan
      nan = ieee_value(nan, ieee_quiet_nan)
      p = ct_prediction(0, CT_PREDICTION_NO_PROGRESS, CT_BUDGET_NONE, nan, nan, nan, nan, nan, nan, nan, nan, nan, &
                        nan, nan, nan, nan, nan, nan, nan, nan)
      p%struct_size = int(c_sizeof(p), c_int32_t)
      if (.not. live(this, stat, errmsg)) return
      call finish(c_predict(this%handle, p), stat, errmsg)
   end subroutine tracker_predict

   !> Whether the predicted numbers of `p` are there (`p%state == CT_PREDICTION_READY`).
   elemental logical function prediction_ready(p)
      type(ct_prediction), intent(in) :: p
      prediction_ready = p%state == CT_PREDICTION_READY
   end function prediction_ready

   !> The JSON document of ct_tracker_json: detected hardware, sources, job, and the totals of
   !> every region (`"regions"`).
   function tracker_describe(this, stat, errmsg) result(text)
      class(ct_tracker), intent(in) :: this
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      character(len=:), allocatable :: text
      type(c_ptr) :: p
      text = ''
      if (.not. live(this, stat, errmsg)) return
      p = c_json(this%handle)
      if (.not. c_associated(p)) then
         call finish(c_last_status(), stat, errmsg)
         return
      end if
      text = from_c(p)
      call c_string_free(p)
      call finish(int(CT_OK, c_int), stat, errmsg)
   end function tracker_describe

   !> Stops a running tracker (final row; errors are logged) and releases it. A freed or never
   !> created tracker is fine; `new` may then create it again.
   subroutine tracker_free(this, stat, errmsg)
      class(ct_tracker), intent(inout) :: this
      integer, intent(out), optional :: stat
      character(len=*), intent(inout), optional :: errmsg
      if (c_associated(this%handle)) call c_free(this%handle)
      this%handle = c_null_ptr
      call finish(int(CT_OK, c_int), stat, errmsg)
   end subroutine tracker_free

   !> Whether `new` created the native tracker (and `free` did not release it yet).
   logical function tracker_created(this)
      class(ct_tracker), intent(in) :: this
      tracker_created = c_associated(this%handle)
   end function tracker_created

   !> `a = b`: only a tracker with no native tracker may be assigned (a copy would free it twice).
   subroutine tracker_assign(lhs, rhs)
      class(ct_tracker), intent(inout) :: lhs
      class(ct_tracker), intent(in) :: rhs
      if (c_associated(rhs%handle)) then
         write (error_unit, '(a)') 'carbon_tracker: a created ct_tracker cannot be copied (it owns a native tracker); '// &
            'pass it by reference'
         flush (error_unit)
         error stop
      end if
      call lhs%free()
   end subroutine tracker_assign

   !> The final procedure: a local ct_tracker leaving its scope is freed (stopped first).
   subroutine tracker_final(this)
      type(ct_tracker), intent(inout) :: this
      if (c_associated(this%handle)) call c_free(this%handle)
      this%handle = c_null_ptr
   end subroutine tracker_final

end module carbon_tracker
