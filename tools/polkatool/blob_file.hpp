// Files for the polkatool subcommands: reading and writing them, and reporting a failure.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "polkavm/error.hpp"
#include "polkavm/program.hpp"

namespace polkatool {

/// The whole file; errors name it ("failed to read foo.elf: not a regular file").
polkavm::Result<std::vector<uint8_t>> read_file(const std::filesystem::path& path);

/// Replaces the file's contents with `bytes`; errors name it.
polkavm::Result<void> write_file(const std::filesystem::path& path, std::span<const uint8_t> bytes);

/// Reads and parses a program blob; errors name the file ("failed to parse foo.polkavm: ...").
polkavm::Result<polkavm::ProgramBlob> load_blob(const std::filesystem::path& path);

/// Prints "error: <message>" to stderr; returns the exit status for a failed command.
int fail(const std::string& message);

}  // namespace polkatool
