// Loads config/reachd.yaml into config::Config. The only code that knows the file format.
// Every problem is reported with its key path ("channels.email.password_file: cannot read ...");
// unknown keys are errors. Relative paths resolve against the config file's folder.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"

namespace reach::config {

struct LoadResult {
  Config config;
  std::vector<std::string> errors;  // empty = valid
};

// Reads and validates the file. Never throws.
LoadResult LoadConfigFile(const std::string& path);
// Same, from YAML text (`base_dir` resolves relative paths; used by tests).
LoadResult LoadConfigText(const std::string& text, const std::string& base_dir);

}  // namespace reach::config
