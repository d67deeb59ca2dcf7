# The install tests (tests/CMakeLists.txt), one step per MODE, run with `cmake -P`:
#
#   MODE=install  `cmake --install BUILD_DIR --prefix WORK_DIR/prefix` (nothing is rebuilt)
#   MODE=library  configure SOURCE_DIR alone (libraries only: no tests, tools, benchmarks, examples, guests)
#                 in WORK_DIR/build with BUILD_SHARED_LIBS=SHARED and POLKAVM_ENABLE_COMPILER=COMPILER,
#                 build it (JOBS jobs) and install it into WORK_DIR/prefix: a configuration other than the
#                 enclosing build's, for MODE=cmake and MODE=make to use
#   MODE=cmake    configure and build cmake_consumer/ against the prefix (find_package(polkavm CONFIG)),
#                 with GUEST=ON also its guest (polkavm_add_guest + the installed polkatool); run it on BLOB
#                 (and on the guest it built)
#   MODE=make     build make_consumer/ with make and `pkg-config [--static]`, run it on BLOB
#
# SHARED: the libraries are shared. After installing, the prefix must hold libraries of that kind only;
# shared ones must export nothing but the polkavm API (listed with NM). COMPILER=OFF: nothing installed for
# the CMake package or pkg-config mentions asmjit.
# Other variables: CXX (the compiler), FLAGS (extra compile and link flags, e.g. the sanitizers),
# GENERATOR, PKG_CONFIG, MAKE, GUEST_CC/GUEST_CXX/GUEST_LD.
cmake_minimum_required(VERSION 3.25)

set(prefix "${WORK_DIR}/prefix")
set(here "${CMAKE_CURRENT_LIST_DIR}")

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}${err}")
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${what} failed (${status})")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# The host prints "<blob>: add_numbers(1, 10) = 111" per blob and exits 0 only if every sum is 111.
function(check_runs output count)
  string(REGEX MATCHALL "add_numbers\\(1, 10\\) = 111" sums "${output}")
  list(LENGTH sums found)
  if(NOT found EQUAL count)
    message(FATAL_ERROR "expected ${count} line(s) 'add_numbers(1, 10) = 111', found ${found}")
  endif()
endfunction()

# What a shared library may export: the C API (polkavm_*), and in namespace polkavm (with type information
# and virtual tables) what the headers mark POLKAVM_API. Of polkavm::detail, only what header templates call.
# Besides, the standard library's template instantiations of vague linkage (weak or unique: the standard
# library gives them default visibility), never a strong symbol of another namespace (fmt, asmjit, ...).
set(exported_detail "abort_on_error_access|resolve|run_call|export_pc")
function(check_exports library)
  execute_process(COMMAND "${NM}" -D -C --defined-only "${library}" RESULT_VARIABLE status OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${NM} -D ${library} failed: ${err}")
  endif()
  string(REPLACE "\n" ";" lines "${out}")
  set(count 0)
  set(std_count 0)
  set(unexpected "")
  foreach(line ${lines})
    # "<address> <type> <name>"; the name may contain spaces
    if(NOT line MATCHES "^[0-9a-f]+ ([A-Za-z]) (.*)$")
      continue()
    endif()
    set(type "${CMAKE_MATCH_1}")
    set(name "${CMAKE_MATCH_2}")
    math(EXPR count "${count} + 1")
    if(type MATCHES "^[WVu]$" AND name MATCHES "^([^(]* )?std::")  # "[return type ]std::...", "vtable for std::..."
      math(EXPR std_count "${std_count} + 1")
    elseif(name MATCHES "^polkavm_[a-z0-9_]+$")  # the C API
    elseif(name MATCHES "^polkavm::detail::")
      if(NOT name MATCHES "^polkavm::detail::(${exported_detail})\\(")
        list(APPEND unexpected "${name}")
      endif()
    elseif(NOT name MATCHES "^((typeinfo|typeinfo name|vtable) for )?polkavm::")
      list(APPEND unexpected "${name}")
    endif()
  endforeach()
  get_filename_component(file "${library}" NAME)
  message("${file}: ${count} exported symbols (${std_count} of them standard library template instances)")
  if(unexpected)
    string(REPLACE ";" "\n  " unexpected "${unexpected}")
    message(FATAL_ERROR "${file} exports what is not polkavm API:\n  ${unexpected}")
  endif()
endfunction()

# The prefix holds the kind of libraries SHARED says (only polkavm API exported) and, without the compiler,
# a package that does not mention asmjit.
function(check_prefix)
  file(GLOB_RECURSE static_libraries "${prefix}/libpolkavm*.a")
  file(GLOB_RECURSE shared_libraries "${prefix}/libpolkavm*.so")
  if(SHARED)
    if(static_libraries OR NOT shared_libraries)
      message(FATAL_ERROR "expected shared libraries only, found: ${static_libraries} ${shared_libraries}")
    endif()
    foreach(library ${shared_libraries})
      check_exports("${library}")
    endforeach()
  elseif(shared_libraries OR NOT static_libraries)
    message(FATAL_ERROR "expected static libraries only, found: ${static_libraries} ${shared_libraries}")
  endif()
  if(DEFINED COMPILER AND NOT COMPILER)
    file(GLOB_RECURSE package_files "${prefix}/*.cmake" "${prefix}/*.pc")
    foreach(file ${package_files})
      file(STRINGS "${file}" mentions REGEX "asmjit")
      if(mentions)
        message(FATAL_ERROR "a build without the compiler, but ${file} mentions asmjit: ${mentions}")
      endif()
    endforeach()
  endif()
  foreach(file include/polkavm/version.hpp include/polkavm/linker.hpp include/polkavm/export.h)
    if(NOT EXISTS "${prefix}/${file}")
      message(FATAL_ERROR "not installed: ${file}")
    endif()
  endforeach()
endfunction()

if(MODE STREQUAL "install")
  file(REMOVE_RECURSE "${WORK_DIR}")
  run_step("cmake --install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")
  check_prefix()

elseif(MODE STREQUAL "library")
  file(REMOVE_RECURSE "${WORK_DIR}")
  set(build "${WORK_DIR}/build")
  run_step("configuring the library alone"
           "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${build}" -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX}"
           -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=${SHARED} -DPOLKAVM_ENABLE_COMPILER=${COMPILER}
           -DPOLKAVM_INSTALL=ON -DPOLKAVM_BUILD_TESTS=OFF -DPOLKAVM_BUILD_TOOLS=OFF -DPOLKAVM_BUILD_BENCH=OFF
           -DPOLKAVM_BUILD_EXAMPLES=OFF -DPOLKAVM_BUILD_GUESTS=OFF -DPOLKAVM_BUILD_DOCS=OFF)
  run_step("building the library" "${CMAKE_COMMAND}" --build "${build}" --parallel ${JOBS})
  run_step("cmake --install" "${CMAKE_COMMAND}" --install "${build}" --prefix "${prefix}")
  check_prefix()

elseif(MODE STREQUAL "cmake")
  set(build "${WORK_DIR}/cmake_consumer")
  file(REMOVE_RECURSE "${build}")
  set(guest_options -DCONSUMER_BUILD_GUEST=OFF)
  if(GUEST)
    set(guest_options -DCONSUMER_BUILD_GUEST=ON -DPOLKAVM_GUEST_CC=${GUEST_CC} -DPOLKAVM_GUEST_CXX=${GUEST_CXX}
                      -DPOLKAVM_GUEST_LD=${GUEST_LD})
  endif()
  run_step("configuring cmake_consumer"
           "${CMAKE_COMMAND}" -S "${here}/cmake_consumer" -B "${build}" -G "${GENERATOR}"
           "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_CXX_COMPILER=${CXX}" "-DCMAKE_CXX_FLAGS=${FLAGS}"
           "-DCMAKE_EXE_LINKER_FLAGS=${FLAGS}" ${guest_options})
  run_step("building cmake_consumer" "${CMAKE_COMMAND}" --build "${build}")
  set(blobs "${BLOB}")
  if(GUEST)
    list(APPEND blobs "${build}/hello-world.polkavm")
  endif()
  list(LENGTH blobs count)
  run_step("running cmake_consumer" "${build}/consumer" ${blobs})
  check_runs("${step_output}" ${count})

elseif(MODE STREQUAL "make")
  set(build "${WORK_DIR}/make_consumer")
  file(REMOVE_RECURSE "${build}")
  file(MAKE_DIRECTORY "${build}")
  # The .pc files are in <prefix>/<libdir>/pkgconfig; libdir is lib or lib/<multiarch>.
  file(GLOB_RECURSE pc_files "${prefix}/*/polkavm.pc")
  if(NOT pc_files)
    message(FATAL_ERROR "no polkavm.pc under ${prefix}")
  endif()
  list(GET pc_files 0 pc_file)
  get_filename_component(pc_dir "${pc_file}" DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
  set(link_options)
  if(SHARED)  # no --static, and the loader must find the libraries in the prefix
    get_filename_component(lib_dir "${pc_dir}" DIRECTORY)
    set(link_options "PKG_CONFIG_STATIC=" "LDFLAGS=-Wl,-rpath,${lib_dir}")
  endif()
  run_step("make_consumer" "${MAKE}" -C "${here}/make_consumer" "BUILD_DIR=${build}" "CXX=${CXX}"
           "PKG_CONFIG=${PKG_CONFIG}" "CXXFLAGS=-O0 ${FLAGS}" ${link_options})
  run_step("running make_consumer" "${build}/consumer" "${BLOB}")
  check_runs("${step_output}" 1)

else()
  message(FATAL_ERROR "MODE must be install, library, cmake or make")
endif()
