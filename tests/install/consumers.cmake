# The install tests (tests/CMakeLists.txt), one step per MODE, run with `cmake -P`:
#
#   MODE=install  `cmake --install BUILD_DIR --prefix WORK_DIR/prefix` (nothing is rebuilt)
#   MODE=cmake    configure and build cmake_consumer/ against the prefix (find_package(polkavm CONFIG)),
#                 with GUEST=ON also its guest (polkavm_add_guest + the installed polkatool); run it on BLOB
#                 (and on the guest it built)
#   MODE=make     build make_consumer/ with make and `pkg-config --static`, run it on BLOB
#
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

if(MODE STREQUAL "install")
  file(REMOVE_RECURSE "${WORK_DIR}")
  run_step("cmake --install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")
  foreach(file include/polkavm/version.hpp include/polkavm/linker.hpp)
    if(NOT EXISTS "${prefix}/${file}")
      message(FATAL_ERROR "not installed: ${file}")
    endif()
  endforeach()

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
  run_step("make_consumer" "${MAKE}" -C "${here}/make_consumer" "BUILD_DIR=${build}" "CXX=${CXX}"
           "PKG_CONFIG=${PKG_CONFIG}" "CXXFLAGS=-O0 ${FLAGS}")
  run_step("running make_consumer" "${build}/consumer" "${BLOB}")
  check_runs("${step_output}" 1)

else()
  message(FATAL_ERROR "MODE must be install, cmake or make")
endif()
