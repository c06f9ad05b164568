// How pilotlight's subcommands plug into the CLI.
//
// Each area registers its subcommands from its own *_commands.cc file with a
// static CommandRegistration, so adding a command never edits main.cc. A
// registrar adds subcommands to the root CLI::App and sets their callbacks; a
// callback stores the command's exit code in the Context. Only files in src/cli
// include CLI11. Single-threaded: everything here runs in main() before and
// during parsing.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace pilotlight::cli {

struct Context {
  int exit_code = 0;
  std::string self_exe;  // absolute path of this binary (to start agents, instances)
};

using Registrar = void (*)(CLI::App& root, Context& context);

// `order` sorts the commands in --help (lower first).
struct CommandRegistration {
  CommandRegistration(int order, Registrar registrar);
};

// Prints "pilotlight: <status>" to stderr and returns 1 when `ok` is false.
int ExitCode(bool ok, const std::string& message);

}  // namespace pilotlight::cli
