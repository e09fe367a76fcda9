// What a printer that writes to a FILE* writes, as a string (the `run` tables in tests).
#pragma once
#include <cstdio>
#include <string>

namespace trainbench::testing {

template <typename Print>
std::string printed(Print&& print) {
  std::FILE* f = std::tmpfile();
  print(f);
  std::rewind(f);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

}  // namespace trainbench::testing
