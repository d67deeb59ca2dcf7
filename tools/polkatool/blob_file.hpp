// Reading .polkavm files for the polkatool subcommands.
#pragma once

#include <filesystem>

#include "polkavm/error.hpp"
#include "polkavm/program.hpp"

namespace polkatool {

/// Reads and parses a program blob; errors name the file ("failed to parse foo.polkavm: ...").
polkavm::Result<polkavm::ProgramBlob> load_blob(const std::filesystem::path& path);

}  // namespace polkatool
