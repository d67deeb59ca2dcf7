# benchtool on `minimal`, one repetition: it must exit 0 and print the table header.
# Run by CTest: cmake -DBENCHTOOL=<path> -P smoke_test.cmake
execute_process(COMMAND "${BENCHTOOL}" --filter minimal --repetitions 1
                RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE errors)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "benchtool exited with ${result}\nstdout:\n${output}\nstderr:\n${errors}")
endif()
string(FIND "${output}" "| program | runner | gas | compile | oneshot | execution |" header)
if(header EQUAL -1)
  message(FATAL_ERROR "benchtool printed no table header:\n${output}")
endif()
message(STATUS "benchtool smoke test passed:\n${output}")
