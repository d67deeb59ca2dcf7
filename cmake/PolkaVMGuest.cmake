# PolkaVMGuest.cmake: build PolkaVM guest programs written in C/C++.
#
#   include(PolkaVMGuest)
#   polkavm_add_guest(hello SOURCES hello.c [RV32] [CXX_RUNTIME] [NO_RUNTIME]
#                     [OUTPUT_NAME name] [INCLUDE_DIRECTORIES dir...] [COMPILE_OPTIONS opt...]
#                     [DEFINITIONS NAME=VALUE...])
#
# makes a custom target `hello` (built by default) producing ${CMAKE_CURRENT_BINARY_DIR}/hello.elf and,
# when POLKAVM_GUEST_LINK is on, hello.polkavm (through `polkatool link`). The guest is compiled with
# clang-19 for rv64emac/lp64e (rv32emac/ilp32e with RV32) and linked with ld.lld-19 the way the
# reference's Rust target does it (-shared, --emit-relocs, ...), together with the SDK's runtime
# (memcpy & co., malloc on sbrk, abort; plus operator new/delete with CXX_RUNTIME).
#
# The project itself is built by the host compiler, so guests are built with custom commands calling
# the cross tools directly rather than as CMake language targets. The target carries the paths in
# the properties POLKAVM_GUEST_ELF and POLKAVM_GUEST_BLOB (empty when not linking).
#
# Where it works: in this project (guest/), in a project that add_subdirectory()s or FetchContent's
# polkavm-cpp (which puts this directory on the parent's CMAKE_MODULE_PATH), and after
# find_package(polkavm CONFIG) of an installed package (this file sits beside polkavmConfig.cmake, which
# sets POLKAVM_GUEST_SDK_DIR to the installed SDK; `polkatool link` is then the installed
# polkavm::polkatool). Include it in every directory that calls polkavm_add_guest (or a parent of it).
#
# When clang-19, clang++-19 or ld.lld-19 is missing, POLKAVM_GUEST_TOOLCHAIN_FOUND is false (after one
# message) and polkavm_add_guest stops the configure step with an error naming what is missing; check
# POLKAVM_GUEST_TOOLCHAIN_FOUND first to build without guests. The same goes for a missing polkatool when
# POLKAVM_GUEST_LINK is on. polkavm_add_guest never silently produces nothing.

# The SDK: in the source tree beside this file, or where an installed package says it is.
if(NOT POLKAVM_GUEST_SDK_DIR)
  set(POLKAVM_GUEST_SDK_DIR "${CMAKE_CURRENT_LIST_DIR}/../guest/sdk" CACHE PATH "PolkaVM guest SDK directory")
endif()
get_filename_component(POLKAVM_GUEST_SDK_DIR "${POLKAVM_GUEST_SDK_DIR}" ABSOLUTE)
if(NOT EXISTS "${POLKAVM_GUEST_SDK_DIR}/include/polkavm/guest.h")
  message(FATAL_ERROR "PolkaVMGuest: no guest SDK at POLKAVM_GUEST_SDK_DIR=${POLKAVM_GUEST_SDK_DIR} "
                      "(expected include/polkavm/guest.h there)")
endif()
set(POLKAVM_POLKATOOL "" CACHE FILEPATH
    "polkatool used by polkavm_add_guest (default: the polkatool target, or the installed polkavm::polkatool)")

find_program(POLKAVM_GUEST_CC NAMES clang-19 DOC "clang used for PolkaVM guests (C)")
find_program(POLKAVM_GUEST_CXX NAMES clang++-19 DOC "clang++ used for PolkaVM guests (C++)")
find_program(POLKAVM_GUEST_LD NAMES ld.lld-19 DOC "ld.lld used for PolkaVM guests")
find_program(POLKAVM_GUEST_AR NAMES llvm-ar-19 llvm-ar DOC "llvm-ar for the guest runtime archive (optional)")

set(POLKAVM_GUEST_OPT "-O2" CACHE STRING "Optimisation flags for PolkaVM guests")
# clang unrolls loops with a run-time trip count when it compiles for x86-64, but its generic RISC-V
# tuning (small in-order cores) does not. A guest runs on an x86-64 recompiler or an interpreter, where
# unrolled loops are up to twice as fast (docs/PERFORMANCE.md); the price is code size (docs/GUESTS.md).
option(POLKAVM_GUEST_UNROLL "Unroll guest loops with run-time trip counts (-mllvm=-unroll-runtime)" ON)
set(POLKAVM_GUEST_EXTRA_FLAGS "" CACHE STRING "Extra compiler flags for every PolkaVM guest source (a ;-list)")

# Link step: on when polkatool has the `link` subcommand (tools/polkatool/link.cpp in the source tree;
# an installed package's polkatool always has it), unless overridden.
if(EXISTS "${CMAKE_CURRENT_LIST_DIR}/../tools/polkatool/link.cpp" OR
   NOT EXISTS "${CMAKE_CURRENT_LIST_DIR}/../tools/polkatool")
  set(_polkavm_link_default ON)
else()
  set(_polkavm_link_default OFF)
endif()
option(POLKAVM_GUEST_LINK "Turn guest ELFs into .polkavm blobs with `polkatool link`" ${_polkavm_link_default})

if(POLKAVM_GUEST_CC AND POLKAVM_GUEST_CXX AND POLKAVM_GUEST_LD)
  set(POLKAVM_GUEST_TOOLCHAIN_FOUND TRUE)
else()
  set(POLKAVM_GUEST_TOOLCHAIN_FOUND FALSE)
  get_property(_polkavm_told GLOBAL PROPERTY _POLKAVM_GUEST_TOOLCHAIN_MESSAGE)
  if(NOT _polkavm_told)
    set_property(GLOBAL PROPERTY _POLKAVM_GUEST_TOOLCHAIN_MESSAGE TRUE)
    message(STATUS "PolkaVM guests: skipped (needs clang-19, clang++-19 and ld.lld-19; "
                   "found cc='${POLKAVM_GUEST_CC}' cxx='${POLKAVM_GUEST_CXX}' ld='${POLKAVM_GUEST_LD}')")
  endif()
endif()

# Target and ABI flags per bitness. Only the 13 registers of RV32E/RV64E exist in PolkaVM, hence E.
set(_POLKAVM_GUEST_ARCH_64 --target=riscv64-unknown-none-elf -march=rv64emac -mabi=lp64e)
set(_POLKAVM_GUEST_ARCH_32 --target=riscv32-unknown-none-elf -march=rv32emac -mabi=ilp32e)

if(POLKAVM_GUEST_UNROLL)
  set(_POLKAVM_GUEST_UNROLL_FLAGS -mllvm=-unroll-runtime)
else()
  set(_POLKAVM_GUEST_UNROLL_FLAGS)
endif()

# Position independent (the linker re-links from relocations), no stack protector, no unwind tables,
# no host headers: only clang's own (stdint.h, stddef.h, ...) plus the SDK's small libc headers.
set(_POLKAVM_GUEST_COMMON_FLAGS
    -fPIE -fvisibility=hidden -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables
    -ffunction-sections -fdata-sections -nostdlibinc
    -isystem "${POLKAVM_GUEST_SDK_DIR}/libc" -I "${POLKAVM_GUEST_SDK_DIR}/include" -Wall -Wextra)
set(_POLKAVM_GUEST_CXX_FLAGS -std=c++20 -fno-exceptions -fno-rtti -fno-threadsafe-statics)
set(_POLKAVM_GUEST_C_FLAGS -std=c11)

# The reference target's link flags (polkavm-linker/targets/*.json), plus --no-undefined so a missing
# runtime function fails here rather than in `polkatool link`.
set(POLKAVM_GUEST_LINK_FLAGS -shared -z notext --emit-relocs --unique --apply-dynamic-relocs -Bsymbolic
    --no-undefined)

# _polkavm_guest_compile(<out-var> <bits> <source> <objdir> <extra flags...>): one object file.
function(_polkavm_guest_compile out_var bits source objdir)
  get_filename_component(source "${source}" ABSOLUTE)
  get_filename_component(base "${source}" NAME)
  set(object "${objdir}/${base}.o")
  if(source MATCHES "\\.(cpp|cc|cxx)$")
    set(compiler "${POLKAVM_GUEST_CXX}")
    set(lang_flags ${_POLKAVM_GUEST_CXX_FLAGS})
  else()
    set(compiler "${POLKAVM_GUEST_CC}")
    set(lang_flags ${_POLKAVM_GUEST_C_FLAGS})
  endif()
  file(RELATIVE_PATH object_rel "${CMAKE_BINARY_DIR}" "${object}")
  add_custom_command(
    OUTPUT "${object}"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${objdir}"
    COMMAND "${compiler}" ${_POLKAVM_GUEST_ARCH_${bits}} ${lang_flags} ${POLKAVM_GUEST_OPT} ${_POLKAVM_GUEST_UNROLL_FLAGS}
            ${_POLKAVM_GUEST_COMMON_FLAGS} ${POLKAVM_GUEST_EXTRA_FLAGS} ${ARGN}
            -MD -MF "${object}.d" -c "${source}" -o "${object}"
    DEPENDS "${source}"
    DEPFILE "${object}.d"
    COMMENT "Building PolkaVM guest object ${object_rel}"
    COMMAND_EXPAND_LISTS
    VERBATIM)
  set(${out_var} "${object}" PARENT_SCOPE)
endfunction()

# The runtime, built once per bitness: an archive when llvm-ar exists, else a list of objects.
# Sets _POLKAVM_GUEST_RUNTIME_<bits>[_CXX] (files to link) in the caller's scope.
function(_polkavm_guest_runtime bits)
  set(prop "_POLKAVM_GUEST_RUNTIME_${bits}")
  get_property(done GLOBAL PROPERTY ${prop} SET)
  if(NOT done)
    set(objdir "${CMAKE_BINARY_DIR}/polkavm-guest-runtime/rv${bits}")
    set(rt "${POLKAVM_GUEST_SDK_DIR}/runtime")
    set(c_objects)
    # -fno-builtin: these ARE the builtins; clang must not turn their loops into calls to themselves.
    foreach(src string.c malloc.c abort.c int64.c)
      _polkavm_guest_compile(obj ${bits} "${rt}/${src}" "${objdir}" -fno-builtin -ffreestanding)
      list(APPEND c_objects "${obj}")
    endforeach()
    _polkavm_guest_compile(cxx_object ${bits} "${rt}/cxx.cpp" "${objdir}" -ffreestanding)
    if(POLKAVM_GUEST_AR)
      set(archive "${objdir}/libpolkavm_guest_rt.a")
      add_custom_command(OUTPUT "${archive}"
                         COMMAND "${CMAKE_COMMAND}" -E rm -f "${archive}"
                         COMMAND "${POLKAVM_GUEST_AR}" rcs "${archive}" ${c_objects}
                         DEPENDS ${c_objects}
                         COMMENT "Archiving the PolkaVM guest runtime (rv${bits})"
                         VERBATIM)
      set(c_runtime "${archive}")
    else()
      set(c_runtime ${c_objects})
    endif()
    add_custom_target(polkavm_guest_runtime_rv${bits} DEPENDS ${c_runtime} "${cxx_object}")
    set_property(GLOBAL PROPERTY ${prop} "${c_runtime}")
    set_property(GLOBAL PROPERTY ${prop}_CXX "${cxx_object}")
    set_property(GLOBAL PROPERTY ${prop}_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  endif()
  get_property(c_runtime GLOBAL PROPERTY ${prop})
  get_property(cxx_runtime GLOBAL PROPERTY ${prop}_CXX)
  get_property(dir GLOBAL PROPERTY ${prop}_DIR)
  set(${prop} "${c_runtime}" PARENT_SCOPE)
  set(${prop}_CXX "${cxx_runtime}" PARENT_SCOPE)
  # Custom command outputs are only known in the directory that made them; elsewhere, depend on the
  # runtime's target instead of its files.
  if(dir STREQUAL CMAKE_CURRENT_SOURCE_DIR)
    set(${prop}_DEPENDS "${c_runtime};${cxx_runtime}" PARENT_SCOPE)
  else()
    set(${prop}_DEPENDS polkavm_guest_runtime_rv${bits} PARENT_SCOPE)
  endif()
endfunction()

function(polkavm_add_guest name)
  cmake_parse_arguments(PARSE_ARGV 1 G "RV32;CXX_RUNTIME;NO_RUNTIME" "OUTPUT_NAME"
                        "SOURCES;INCLUDE_DIRECTORIES;COMPILE_OPTIONS;DEFINITIONS")
  # The function is global once defined, its settings are not: they belong to the including directory.
  if(NOT DEFINED _POLKAVM_GUEST_COMMON_FLAGS)
    message(FATAL_ERROR "polkavm_add_guest(${name}): include(PolkaVMGuest) in this directory (or a parent) first")
  endif()
  set(missing)
  foreach(tool CC CXX LD)
    if(NOT POLKAVM_GUEST_${tool})
      list(APPEND missing "POLKAVM_GUEST_${tool}")
    endif()
  endforeach()
  if(missing)
    list(JOIN missing ", " missing)
    message(FATAL_ERROR "polkavm_add_guest(${name}): cannot build a guest without clang-19, clang++-19 and "
                        "ld.lld-19; not found: ${missing} (Debian: apt-get install clang-19 lld-19, or set "
                        "those cache variables to the tools' paths)")
  endif()
  if(NOT G_SOURCES)
    message(FATAL_ERROR "polkavm_add_guest(${name}): no SOURCES")
  endif()
  if(G_RV32)
    set(bits 32)
  else()
    set(bits 64)
  endif()
  if(NOT G_OUTPUT_NAME)
    set(G_OUTPUT_NAME "${name}")
  endif()

  set(extra ${G_COMPILE_OPTIONS})
  foreach(dir ${G_INCLUDE_DIRECTORIES})
    get_filename_component(dir "${dir}" ABSOLUTE)
    list(APPEND extra -I "${dir}")
  endforeach()
  foreach(def ${G_DEFINITIONS})
    list(APPEND extra "-D${def}")
  endforeach()

  set(objdir "${CMAKE_CURRENT_BINARY_DIR}/${name}.guest-objects")
  set(objects)
  foreach(src ${G_SOURCES})
    _polkavm_guest_compile(obj ${bits} "${src}" "${objdir}" ${extra})
    list(APPEND objects "${obj}")
  endforeach()

  set(runtime)
  set(runtime_depends)
  if(NOT G_NO_RUNTIME)
    _polkavm_guest_runtime(${bits})
    if(G_CXX_RUNTIME)
      list(APPEND runtime ${_POLKAVM_GUEST_RUNTIME_${bits}_CXX})
    endif()
    list(APPEND runtime ${_POLKAVM_GUEST_RUNTIME_${bits}})
    set(runtime_depends ${_POLKAVM_GUEST_RUNTIME_${bits}_DEPENDS})
  endif()

  set(elf "${CMAKE_CURRENT_BINARY_DIR}/${G_OUTPUT_NAME}.elf")
  file(RELATIVE_PATH elf_rel "${CMAKE_BINARY_DIR}" "${elf}")
  add_custom_command(
    OUTPUT "${elf}"
    COMMAND "${POLKAVM_GUEST_LD}" ${POLKAVM_GUEST_LINK_FLAGS} -o "${elf}" ${objects} ${runtime}
    DEPENDS ${objects} ${runtime_depends}
    COMMENT "Linking PolkaVM guest ELF ${elf_rel}"
    VERBATIM)
  set(outputs "${elf}")

  set(blob "")
  if(POLKAVM_GUEST_LINK)
    # Which polkatool: the one asked for, this build's (in polkavm-cpp's own build polkatool is defined
    # after guest/, so POLKAVM_BUILD_TOOLS says it will exist), or an installed package's.
    if(POLKAVM_POLKATOOL)
      set(polkatool "${POLKAVM_POLKATOOL}")
      set(polkatool_depends "${POLKAVM_POLKATOOL}")
    elseif(TARGET polkatool OR (POLKAVM_BUILD_TOOLS AND PROJECT_NAME STREQUAL "polkavm_cpp"))
      set(polkatool "$<TARGET_FILE:polkatool>")
      set(polkatool_depends polkatool)
    elseif(TARGET polkavm::polkatool)
      set(polkatool "$<TARGET_FILE:polkavm::polkatool>")
      set(polkatool_depends "$<TARGET_FILE:polkavm::polkatool>")
    else()
      message(FATAL_ERROR "polkavm_add_guest(${name}): making ${G_OUTPUT_NAME}.polkavm needs polkatool, and there "
                          "is none: no polkatool target (polkavm-cpp as a subproject: set POLKAVM_BUILD_TOOLS=ON) "
                          "and no polkavm::polkatool (an installed polkavm package without its tools). Set "
                          "POLKAVM_POLKATOOL to a polkatool, or POLKAVM_GUEST_LINK=OFF to build the ELF only.")
    endif()
    set(blob "${CMAKE_CURRENT_BINARY_DIR}/${G_OUTPUT_NAME}.polkavm")
    file(RELATIVE_PATH blob_rel "${CMAKE_BINARY_DIR}" "${blob}")
    add_custom_command(
      OUTPUT "${blob}"
      COMMAND "${polkatool}" link -o "${blob}" "${elf}"
      DEPENDS "${elf}" ${polkatool_depends}
      COMMENT "polkatool link ${blob_rel}"
      VERBATIM)
    list(APPEND outputs "${blob}")
  endif()

  add_custom_target(${name} ALL DEPENDS ${outputs})
  set_target_properties(${name} PROPERTIES POLKAVM_GUEST_ELF "${elf}" POLKAVM_GUEST_BLOB "${blob}")
endfunction()
