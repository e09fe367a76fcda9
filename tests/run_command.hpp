// Runs the trainbench program as a user would and captures what it printed and its exit code.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace trainbench::testing {

struct Outcome {
  int code = -1;
  std::string output;  // stdout and stderr together
};

// The program under test: $TRAINBENCH_EXE where set (binaries built elsewhere and carried to a
// GPU machine, as scripts/gpu-session.sh's PREBUILT), else the one this build made.
inline std::string trainbench_exe() {
  const char* set = std::getenv("TRAINBENCH_EXE");
  return set && *set ? std::string(set) : std::string(TRAINBENCH_EXE);
}

inline Outcome run_trainbench(const std::string& args) {
  const std::string command = trainbench_exe() + " " + args + " 2>&1";
  Outcome o;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return o;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) o.output.append(buf, n);
  const int status = pclose(pipe);
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace trainbench::testing
