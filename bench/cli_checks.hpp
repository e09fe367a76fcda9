// Option validators for the command line that say what a value must be ("must be a positive
// number, not 0"), where CLI11's own print the whole range of a double.
#pragma once
#include <cmath>
#include <string>

#include <CLI/CLI.hpp>

namespace trainbench {

// > 0 and finite (counts, sizes, seconds, fractions).
inline CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double v = 0;
        try {
          std::size_t used = 0;
          v = std::stod(text, &used);
          if (used != text.size()) return "must be a positive number, not \"" + text + "\"";
        } catch (const std::exception&) {
          return "must be a positive number, not \"" + text + "\"";
        }
        return std::isfinite(v) && v > 0 ? std::string() : "must be a positive, finite number, not " + text;
      },
      "POSITIVE");
}

// A whole number from 0 (a GPU index).
inline CLI::Validator non_negative_integer() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          std::size_t used = 0;
          const long long v = std::stoll(text, &used);
          if (used == text.size() && v >= 0) return std::string();
        } catch (const std::exception&) {
        }
        return "must be a whole number from 0, not \"" + text + "\"";
      },
      "INDEX");
}

}  // namespace trainbench
