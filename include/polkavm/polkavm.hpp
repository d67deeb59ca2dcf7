/// @file
/// Umbrella header: every C++ header of the library but elf_linker.hpp (polkavm::elf_linker). The assembler and
/// the disassembler are in polkavm::asm; the C API is polkavm.h.
#pragma once

#include "polkavm/assembler.hpp"
#include "polkavm/code.hpp"
#include "polkavm/config.hpp"
#include "polkavm/debug_info.hpp"
#include "polkavm/disassembler.hpp"
#include "polkavm/error.hpp"
#include "polkavm/gas.hpp"
#include "polkavm/isa.hpp"
#include "polkavm/linker.hpp"
#include "polkavm/memory_map.hpp"
#include "polkavm/program.hpp"
#include "polkavm/runtime.hpp"
#include "polkavm/version.hpp"

/// @namespace polkavm
/// polkavm-cpp's C++ API: engines, modules and instances (runtime.hpp), typed host functions (linker.hpp),
/// program blobs and their code, gas, the assembler, the disassembler and the ELF linker.
