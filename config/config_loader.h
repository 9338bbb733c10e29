// Loads config/reachd.yaml into config::Config. The only code that knows the file format.
// Every problem is reported with its key path ("channels.email.password_file: cannot read ...");
// unknown keys are errors. Relative paths resolve against the config file's folder.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"

namespace reach::config {

struct LoadResult {
  Config config;
  std::vector<std::string> errors;  // empty = valid
};

// Command-line values that replace the file's (reachd --listen, --data-dir), so that several
// instances and tests share one config file.
struct Overrides {
  std::optional<std::string> listen;    // server.listen, HOST:PORT
  std::optional<std::string> data_dir;  // store.data_dir; relative to the working directory
};

// Reads and validates the file. Never throws.
LoadResult LoadConfigFile(const std::string& path);
// Applies `o` over `result->config`, checked as the file's keys are; a bad value is appended to
// `result->errors` naming its option ("--listen: must be HOST:PORT with a port up to 65535").
void ApplyOverrides(const Overrides& o, LoadResult* result);
// Same, from YAML text (`base_dir` resolves relative paths; used by tests).
LoadResult LoadConfigText(const std::string& text, const std::string& base_dir);

}  // namespace reach::config
