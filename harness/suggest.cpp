#include "harness/suggest.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace trainbench {
std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::size_t edit_distance(std::string_view a_in, std::string_view b_in) {
  const std::string a = lowercase(a_in), b = lowercase(b_in);
  // Optimal string alignment: Levenshtein plus the swap of two neighbours ("lamma" for "llama"
  // costs one substitution pair otherwise).
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::vector<std::string> closest_names(std::string_view given, const std::vector<std::string>& known) {
  std::vector<std::string> out;
  if (given.empty()) return out;
  std::size_t best = SIZE_MAX;
  for (const auto& name : known) {
    const std::size_t d = edit_distance(given, name);
    if (d > std::max<std::size_t>(1, std::max(given.size(), name.size()) / 3)) continue;
    if (d < best) {
      best = d;
      out.clear();
    }
    if (d == best) out.push_back(name);
  }
  if (!out.empty()) return out;
  const std::string needle = lowercase(given);
  for (const auto& name : known)
    if (lowercase(name).find(needle) != std::string::npos && out.size() < 4) out.push_back(name);
  return out;
}

std::string did_you_mean(std::string_view given, const std::vector<std::string>& known) {
  const auto names = closest_names(given, known);
  if (names.empty()) return "";
  std::string quoted;
  for (const auto& n : names) quoted += (quoted.empty() ? "\"" : ", \"") + n + "\"";
  return names.size() == 1 ? " (did you mean " + quoted + "?)" : " (did you mean one of " + quoted + "?)";
}

}  // namespace trainbench
