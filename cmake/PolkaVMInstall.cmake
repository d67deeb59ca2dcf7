# Install rules (included by the top-level CMakeLists.txt when POLKAVM_INSTALL is on):
#
#   lib/libpolkavm.a, libpolkavm_asm.a, libpolkavm_elf_linker.a
#   include/polkavm/*.hpp (+ the generated version.hpp)
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
install(TARGETS polkavm polkavm_asm EXPORT polkavmTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT polkavm_development)
install(TARGETS polkavm_elf_linker EXPORT polkavmElfLinkerTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT polkavm_development)
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

# pkg-config. The libraries are static, so what they use goes in Requires.private/Libs.private:
# `pkg-config --static --libs polkavm`. asmjit has no .pc file, hence -lasmjit.
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
