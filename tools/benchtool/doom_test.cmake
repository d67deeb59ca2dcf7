# benchtool on Doom, the compiler with sync gas, one repetition: it must exit 0 with a Doom row checked against
# the reference's results ("ok (1648325789)": the low 32 bits of the frames' checksum after 10 ticks).
# Run by CTest: cmake -DBENCHTOOL=<path> -P doom_test.cmake
execute_process(COMMAND "${BENCHTOOL}" --filter doom --backend compiler --gas sync --repetitions 1
                RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE errors)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "benchtool exited with ${result}\nstdout:\n${output}\nstderr:\n${errors}")
endif()
string(REGEX MATCH "\\| doom \\| compiler \\| sync \\| [^|]+ \\| [^|]+ \\| [^|]+ \\| [^|]+ \\| – \\| – \\| ok \\(1648325789\\) \\|" row "${output}")
if(NOT row)
  message(FATAL_ERROR "benchtool printed no checked Doom row:\n${output}\nstderr:\n${errors}")
endif()
message(STATUS "benchtool Doom test passed: ${row}")
