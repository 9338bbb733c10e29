#include <iostream>

#include "tools/reachctl/reachctl.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return reach::ctl::RunReachctl(args, std::cout, std::cerr);
}
