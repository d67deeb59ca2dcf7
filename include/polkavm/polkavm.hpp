// Umbrella header.
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
