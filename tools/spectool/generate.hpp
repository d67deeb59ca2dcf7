// Turns spec sources (the reference spectool's format) into step vectors in the reference's JSON schema.
//
// A spec source is assembler text plus directive lines, each of which is blanked before assembly so that
// assembler errors keep their line numbers:
//   pre: a0 = 1        pre: gas = 10000           initial registers and gas (default gas: 10000)
//   post: a2 = 3       post: gas = 9998           checked after the last run
//   post: pc = @label[N]                          the final pc: the N-th instruction from export `label`
//   step: run | map RO|RW 0xSTART..0xEND | write 0xADDRESS HEXBYTES | REG = VALUE
// Execution starts at export `main`; export `expected_exit` names the expected final pc (default: the end
// of code). The program is assembled for JamV1 (unless it says `%isa = ...`; the vector then carries an
// "isa" key, our one extension of the schema) and run on the interpreter with step tracing, sync gas and
// the full gas model at the L2-hit setting; after each run an "assert" step records the observed state.
#pragma once

#include <string>
#include <string_view>

#include "polkavm/error.hpp"
#include "polkavm/runtime.hpp"

namespace polkavm::vectors {

class VectorGenerator {
 public:
  static Result<VectorGenerator> create();

  /// The vector's JSON text for the spec source `source`, laid out as the reference writes it (two-space
  /// indentation, no final newline). Errors name the problem: a bad directive line, an assembler error,
  /// or an expectation (post:, expected_exit) the run did not meet.
  Result<std::string> generate(std::string_view name, std::string_view source) const;

 private:
  explicit VectorGenerator(Engine engine) : engine_(std::move(engine)) {}
  Engine engine_;
};

}  // namespace polkavm::vectors
