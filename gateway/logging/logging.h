// Logging setup (spdlog). Text or JSON lines. Delivery events are logged with the message id and a
// masked address; secrets are never passed to the logger.
#pragma once

#include <string>

#include "config/config.h"

namespace reach::logging {

// Configures the default spdlog logger (stderr). Safe to call again on reload.
void Setup(const config::LogConfig& cfg);

// Escapes a string for inclusion in a JSON log line.
std::string JsonEscape(const std::string& s);

}  // namespace reach::logging
