# cmake -DNATIVE=exe -DPOLKATOOL=exe -DBLOB=file.polkavm -DARG=n [-DRUN_OPTIONS=a;b] -P PolkaVMGuestCompare.cmake
#
# Runs a guest program's native twin and the guest itself (`polkatool run --call run`) with the same
# argument and fails unless both return the same 32-bit checksum. On rv64 a 32-bit result sits
# sign-extended in a0, so only the low 32 bits of a0 are compared.
foreach(var NATIVE POLKATOOL BLOB ARG)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "PolkaVMGuestCompare: ${var} is not set")
  endif()
endforeach()

execute_process(COMMAND "${NATIVE}" "${ARG}" OUTPUT_VARIABLE native_out RESULT_VARIABLE native_rc
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT native_rc EQUAL 0)
  message(FATAL_ERROR "native twin failed (${native_rc}): ${native_out}")
endif()

execute_process(COMMAND "${POLKATOOL}" run "${BLOB}" --call run --args "${ARG}" ${RUN_OPTIONS}
                OUTPUT_VARIABLE guest_out ERROR_VARIABLE guest_err RESULT_VARIABLE guest_rc)
if(NOT guest_rc EQUAL 0 OR NOT guest_out MATCHES "a0 = 0x([0-9a-f]+)")
  message(FATAL_ERROR "polkatool run failed (${guest_rc}):\n${guest_out}${guest_err}")
endif()
set(a0 "${CMAKE_MATCH_1}")
string(LENGTH "${a0}" length)
if(length GREATER 8)
  math(EXPR start "${length} - 8")
  string(SUBSTRING "${a0}" ${start} 8 a0)
endif()
math(EXPR guest_value "0x${a0}" OUTPUT_FORMAT DECIMAL)
if(NOT guest_out MATCHES "interrupt: finished")
  message(FATAL_ERROR "the call did not finish normally:\n${guest_out}")
endif()
if(NOT guest_value STREQUAL native_out)
  message(FATAL_ERROR "checksum mismatch: native ${native_out}, guest ${guest_value}\n${guest_out}")
endif()
message(STATUS "${BLOB} run(${ARG}) = ${guest_value}, same as native")
