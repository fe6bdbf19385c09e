# The Fortran 2008 module (bindings/fortran/carbon_tracker.f90) over the C ABI, built by a
# top-level build when a Fortran compiler is found (-DCARBON_TRACKER_FORTRAN=OFF to skip it; under
# add_subdirectory it is off unless set, so a parent project does not get Fortran enabled): the static library
# carbon_tracker_fortran (target carbon_tracker::fortran, linking carbon_tracker::carbon_tracker)
# and carbon_tracker.mod, installed to <includedir>/carbon_tracker/fortran. A .mod file is the
# compiler's own format: programs use the compiler (and major version) that built it.
set(_ct_fortran_default OFF)
if(_ct_top_level)
  include(CheckLanguage)
  check_language(Fortran)
  if(CMAKE_Fortran_COMPILER)
    set(_ct_fortran_default ON)
  endif()
endif()
option(CARBON_TRACKER_FORTRAN "Build and install the Fortran module" ${_ct_fortran_default})
if(NOT CARBON_TRACKER_FORTRAN)
  return()
endif()
enable_language(Fortran)
set(CARBON_TRACKER_FORTRAN_MODULE_DIR "${PROJECT_BINARY_DIR}/fortran-modules")
add_library(carbon_tracker_fortran STATIC bindings/fortran/carbon_tracker.f90)
set_target_properties(carbon_tracker_fortran PROPERTIES
  Fortran_MODULE_DIRECTORY "${CARBON_TRACKER_FORTRAN_MODULE_DIR}"
  POSITION_INDEPENDENT_CODE ON)
target_compile_options(carbon_tracker_fortran PRIVATE $<$<Fortran_COMPILER_ID:GNU>:-std=f2008 -Wall>)
target_include_directories(carbon_tracker_fortran INTERFACE "$<BUILD_INTERFACE:${CARBON_TRACKER_FORTRAN_MODULE_DIR}>")
target_link_libraries(carbon_tracker_fortran PUBLIC carbon_tracker::carbon_tracker)
add_library(carbon_tracker::fortran ALIAS carbon_tracker_fortran)

if(CARBON_TRACKER_INSTALL)
  install(TARGETS carbon_tracker_fortran ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT Development)
  install(FILES "${CARBON_TRACKER_FORTRAN_MODULE_DIR}/carbon_tracker.mod"
          DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/carbon_tracker/fortran" COMPONENT Development)
endif()

if(CARBON_TRACKER_BUILD_TESTS)
  enable_testing()
  set(_ct_fortran_out "${PROJECT_BINARY_DIR}/test-output/fortran")
  file(MAKE_DIRECTORY "${_ct_fortran_out}")
  foreach(_ct_program IN ITEMS tests/fortran/api_test.f90 tests/fortran/error_stop.f90 examples/fortran/simulation.f90)
    get_filename_component(_ct_name "${_ct_program}" NAME_WE)
    add_executable(ct_fortran_${_ct_name} "${_ct_program}")
    target_link_libraries(ct_fortran_${_ct_name} PRIVATE carbon_tracker::fortran)
  endforeach()
  add_test(NAME fortran_api COMMAND ct_fortran_api_test "${_ct_fortran_out}")
  add_test(NAME fortran_simulation COMMAND ct_fortran_simulation 60 "${_ct_fortran_out}")
  # Without stat, a failure stops the program with the library's message.
  add_test(NAME fortran_error_stop COMMAND ct_fortran_error_stop)
  set_tests_properties(fortran_error_stop PROPERTIES WILL_FAIL ON)
  set_tests_properties(fortran_api fortran_simulation fortran_error_stop PROPERTIES
    ENVIRONMENT "CARBON_TRACKER_LOOPBACK_ONLY=1;CODECARBON_LOG_LEVEL=error")
endif()
