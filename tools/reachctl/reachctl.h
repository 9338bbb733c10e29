// reachctl: the command-line client of reachd's HTTP API, plus offline template tools.
// The whole program is RunReachctl() so tests drive it with argument vectors and string streams.
//
// Exit codes: 0 ok; 1 the API answered with an error (or some batch lines were rejected, or a
// lint found errors); 2 usage error; 3 cannot reach the server.
//
// Thread-safety: not thread-safe (one call at a time).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace reach::ctl {

// `args` excludes the program name. The server URL comes from --server, else the environment
// variable REACH_SERVER, else http://127.0.0.1:8080; the API key from --api-key or REACH_API_KEY.
int RunReachctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace reach::ctl
