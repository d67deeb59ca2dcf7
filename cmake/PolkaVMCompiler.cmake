# POLKAVM_ENABLE_COMPILER: whether the library has the compiler backend (src/compiler/: x86-64 code assembled
# with asmjit, run in a sandbox of src/sandbox/ and the Linux sandbox's worker). Included by the top-level
# CMakeLists.txt, after BUILD_SHARED_LIBS is set; when the option is on, asmjit::asmjit exists afterwards.
#
# Default: ON on x86-64 Linux where asmjit is found and can be linked into the libraries. OFF builds the
# interpreter only, with neither asmjit nor the worker (nor libseccomp): the engine refuses
# BackendKind::Compiler (ErrorKind::Unsupported, with the reason) and Auto picks the interpreter
# (src/runtime/no_compiler.cpp). Asked for where it cannot be built, the option stops the configuration.
#
# Shared libraries (BUILD_SHARED_LIBS) can hold asmjit only if its library is position-independent. Debian
# 12's libasmjit-dev is a static archive that is not (it reads libc's `stderr` PC-relatively), so there a
# shared build has no compiler by default.

# Whether asmjit::asmjit, all of it, links into a shared library as the libraries link it (its symbols
# hidden, top-level CMakeLists.txt). Probed once per build directory.
function(_polkavm_probe_asmjit_in_shared_library)
  if(DEFINED POLKAVM_ASMJIT_IN_SHARED_LIBRARY)
    return()
  endif()
  set(dir ${PROJECT_BINARY_DIR}/CMakeFiles/polkavm-asmjit-probe)
  file(WRITE ${dir}/CMakeLists.txt "cmake_minimum_required(VERSION 3.25)
project(polkavm_asmjit_probe LANGUAGES CXX)
find_package(asmjit REQUIRED)
add_library(probe SHARED probe.cpp)
target_link_libraries(probe PRIVATE \"$<LINK_LIBRARY:WHOLE_ARCHIVE,asmjit::asmjit>\")
target_link_options(probe PRIVATE LINKER:--exclude-libs,ALL)
")
  file(WRITE ${dir}/probe.cpp "#include <asmjit/x86.h>\nint probe() { asmjit::JitRuntime runtime; return 0; }\n")
  try_compile(linked PROJECT polkavm_asmjit_probe SOURCE_DIR ${dir} BINARY_DIR ${dir}/build
              CMAKE_FLAGS -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER} -Dasmjit_DIR=${asmjit_DIR}
              OUTPUT_VARIABLE output)
  set(POLKAVM_ASMJIT_IN_SHARED_LIBRARY ${linked} CACHE INTERNAL "asmjit links into a shared library")
  if(NOT linked)
    file(WRITE ${dir}/output.txt "${output}")
  endif()
endfunction()

set(_polkavm_x86_64_linux FALSE)
if(CMAKE_SYSTEM_NAME STREQUAL "Linux" AND CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(_polkavm_x86_64_linux TRUE)
endif()

# The default is worked out on the first configuration only; asmjit is not looked for when the option is
# given OFF.
if(NOT DEFINED POLKAVM_ENABLE_COMPILER)
  set(_polkavm_compiler_default OFF)
  if(_polkavm_x86_64_linux)
    find_package(asmjit QUIET)
    if(NOT asmjit_FOUND)
      message(STATUS "asmjit not found: no compiler backend (POLKAVM_ENABLE_COMPILER=OFF), the interpreter only")
    elseif(BUILD_SHARED_LIBS)
      _polkavm_probe_asmjit_in_shared_library()
      if(POLKAVM_ASMJIT_IN_SHARED_LIBRARY)
        set(_polkavm_compiler_default ON)
      else()
        message(STATUS "asmjit's library is not position-independent (Debian's libasmjit-dev is not): shared "
                       "libraries without the compiler backend (POLKAVM_ENABLE_COMPILER=OFF), the interpreter only")
      endif()
    else()
      set(_polkavm_compiler_default ON)
    endif()
  endif()
endif()
option(POLKAVM_ENABLE_COMPILER "Build the x86-64 compiler backend (needs asmjit; OFF: interpreter only)"
       ${_polkavm_compiler_default})

if(POLKAVM_ENABLE_COMPILER)
  set(_polkavm_compiler_off "-DPOLKAVM_ENABLE_COMPILER=OFF builds the interpreter only.")
  if(NOT _polkavm_x86_64_linux)
    message(FATAL_ERROR "POLKAVM_ENABLE_COMPILER=ON: the compiler backend needs Linux on x86-64, and this is "
                        "${CMAKE_SYSTEM_NAME} on ${CMAKE_SYSTEM_PROCESSOR}. ${_polkavm_compiler_off}")
  endif()
  find_package(asmjit QUIET)
  if(NOT asmjit_FOUND)
    message(FATAL_ERROR "POLKAVM_ENABLE_COMPILER=ON, but asmjit was not found: install Debian's libasmjit-dev "
                        "(scripts/setup.sh does) or point asmjit_DIR at its CMake package. ${_polkavm_compiler_off}")
  endif()
  if(BUILD_SHARED_LIBS)
    _polkavm_probe_asmjit_in_shared_library()
    if(NOT POLKAVM_ASMJIT_IN_SHARED_LIBRARY)
      message(FATAL_ERROR "POLKAVM_ENABLE_COMPILER=ON with BUILD_SHARED_LIBS=ON, but asmjit's library "
                          "(${asmjit_DIR}) cannot be linked into a shared library: it is not position-independent "
                          "(Debian's libasmjit-dev is not; see ${PROJECT_BINARY_DIR}/CMakeFiles/polkavm-asmjit-probe/"
                          "output.txt). Use an asmjit built with -fPIC (or shared), or static libraries "
                          "(BUILD_SHARED_LIBS=OFF). ${_polkavm_compiler_off}")
    endif()
  endif()
endif()
