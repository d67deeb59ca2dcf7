# Install rules (included by the top-level CMakeLists.txt when POLKAVM_INSTALL is on):
#
#   lib/libpolkavm.a, libpolkavm_asm.a, libpolkavm_elf_linker.a, or with BUILD_SHARED_LIBS
#       lib/libpolkavm.so.<version> (soname libpolkavm.so.<major>.<minor> for 0.x, .<major> from 1.0) etc.
#   include/polkavm/*.hpp, polkavm.h, export.h (+ the generated version.hpp)
#   bin/polkatool, spectool, benchtool (those that are built)
#   lib/cmake/polkavm/   polkavmConfig.cmake (find_package(polkavm CONFIG)), its version file, the exported
#                        targets polkavm::polkavm, polkavm::asm, polkavm::elf_linker, polkavm::polkatool,
#                        and PolkaVMGuest.cmake (include(PolkaVMGuest) after find_package)
#   lib/pkgconfig/       polkavm.pc, polkavm-asm.pc, polkavm-elf-linker.pc
#   share/polkavm/guest-sdk/   the guest SDK: include/polkavm/guest.h, libc/, runtime/
#   share/doc/polkavm/   LICENSE-MIT, LICENSE-APACHE
#
# Everything is relocatable: the CMake package and the .pc files find the prefix from where they are.

include(CMakePackageConfigHelpers)

set(POLKAVM_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/polkavm" CACHE STRING
    "Where the CMake package (polkavmConfig.cmake) is installed, relative to the prefix")
set(POLKAVM_INSTALL_GUEST_SDK_DIR "${CMAKE_INSTALL_DATADIR}/polkavm/guest-sdk")
mark_as_advanced(POLKAVM_INSTALL_CMAKEDIR)

# Libraries and headers. The ELF linker has its own export set, so that the package can offer it only
# where libelf and libdw are found.
# Shared libraries: the versioned files are the runtime component, the libpolkavm.so link the development one.
install(TARGETS polkavm polkavm_asm EXPORT polkavmTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT polkavm_development
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT polkavm_runtime NAMELINK_COMPONENT polkavm_development)
install(TARGETS polkavm_elf_linker EXPORT polkavmElfLinkerTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT polkavm_development
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT polkavm_runtime NAMELINK_COMPONENT polkavm_development)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/polkavm DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT polkavm_development)
install(FILES ${PROJECT_BINARY_DIR}/include/polkavm/version.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/polkavm
        COMPONENT polkavm_development)
install(EXPORT polkavmTargets NAMESPACE polkavm:: DESTINATION ${POLKAVM_INSTALL_CMAKEDIR}
        COMPONENT polkavm_development)
install(EXPORT polkavmElfLinkerTargets NAMESPACE polkavm:: DESTINATION ${POLKAVM_INSTALL_CMAKEDIR}
        COMPONENT polkavm_development)

# The tools (each tool's CMakeLists.txt adds itself to polkavmToolTargets). polkatool is what
# polkavm_add_guest runs from an installed package, as polkavm::polkatool.
get_property(_polkavm_tools GLOBAL PROPERTY POLKAVM_INSTALLED_TOOLS)
if(_polkavm_tools)
  install(EXPORT polkavmToolTargets NAMESPACE polkavm:: DESTINATION ${POLKAVM_INSTALL_CMAKEDIR}
          COMPONENT polkavm_tools)
endif()

# The guest SDK and its CMake module.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/guest/sdk/ DESTINATION ${POLKAVM_INSTALL_GUEST_SDK_DIR}
        COMPONENT polkavm_guest_sdk)
install(FILES ${PROJECT_SOURCE_DIR}/cmake/PolkaVMGuest.cmake DESTINATION ${POLKAVM_INSTALL_CMAKEDIR}
        COMPONENT polkavm_guest_sdk)

# The CMake package. 0.x releases may break the API in any minor version, 1.0 and later only in a major one.
# What it must find before the targets: fmt (a public dependency) always; for static libraries also what they
# link privately (OpenSSL's libcrypto; asmjit with the compiler backend). Shared libraries carry their own.
set(POLKAVM_PACKAGE_DEPENDENCIES "find_dependency(fmt)")
if(NOT BUILD_SHARED_LIBS)
  if(POLKAVM_ENABLE_COMPILER)
    string(APPEND POLKAVM_PACKAGE_DEPENDENCIES "\nfind_dependency(asmjit)  # the compiler backend")
  endif()
  string(APPEND POLKAVM_PACKAGE_DEPENDENCIES "\nfind_dependency(OpenSSL COMPONENTS Crypto)  # the module cache's SHA-256")
endif()
if(BUILD_SHARED_LIBS)
  set(POLKAVM_PACKAGE_SHARED ON)
else()
  set(POLKAVM_PACKAGE_SHARED OFF)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/polkavmConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/polkavmConfig.cmake
                              INSTALL_DESTINATION ${POLKAVM_INSTALL_CMAKEDIR}
                              PATH_VARS POLKAVM_INSTALL_GUEST_SDK_DIR)
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_polkavm_compatibility SameMinorVersion)
else()
  set(_polkavm_compatibility SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/polkavmConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY ${_polkavm_compatibility})
install(FILES ${PROJECT_BINARY_DIR}/polkavmConfig.cmake ${PROJECT_BINARY_DIR}/polkavmConfigVersion.cmake
        DESTINATION ${POLKAVM_INSTALL_CMAKEDIR} COMPONENT polkavm_development)

# pkg-config. Static libraries: what they use goes in Requires.private/Libs.private (`pkg-config --static
# --libs polkavm`; asmjit, with the compiler backend, has no .pc file, hence -lasmjit). Shared ones need none of
# it to be linked: `pkg-config --libs polkavm`.
if(BUILD_SHARED_LIBS)
  set(POLKAVM_PC_REQUIRES_PRIVATE "")
  set(POLKAVM_PC_LIBS_PRIVATE "")
  set(POLKAVM_PC_ELF_LINKER_REQUIRES_PRIVATE "")
else()
  set(POLKAVM_PC_REQUIRES_PRIVATE "libcrypto")
  set(POLKAVM_PC_LIBS_PRIVATE "-lstdc++ -lm -lpthread")
  if(POLKAVM_ENABLE_COMPILER)
    string(PREPEND POLKAVM_PC_LIBS_PRIVATE "-lasmjit ")
  endif()
  set(POLKAVM_PC_ELF_LINKER_REQUIRES_PRIVATE "libelf libdw")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(POLKAVM_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(POLKAVM_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH _polkavm_up "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
  string(REGEX REPLACE "/$" "" _polkavm_up "${_polkavm_up}")
  set(POLKAVM_PC_PREFIX "\${pcfiledir}/${_polkavm_up}")
  set(POLKAVM_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(POLKAVM_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(POLKAVM_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
foreach(pc polkavm polkavm-asm polkavm-elf-linker)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
          COMPONENT polkavm_development)
endforeach()

install(FILES ${PROJECT_SOURCE_DIR}/LICENSE-MIT ${PROJECT_SOURCE_DIR}/LICENSE-APACHE
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/polkavm COMPONENT polkavm_development)
