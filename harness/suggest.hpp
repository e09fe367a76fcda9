// "Did you mean": the known names closest to a mistyped one, for the errors that list what exists.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace trainbench {

// `s` in lower case (ASCII): names compared without regard to case.
std::string lowercase(std::string_view s);

// Edits (insert, delete, substitute, swap two neighbours) turning `a` into `b`, case-insensitive.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The known names `given` most likely meant: those at the least edit distance when it is at most a
// third of the longer name (at least 1, so one slip always counts); failing that, the names that
// contain `given` (a prefix such as "h800" for "h800-sxm"), at most four. Empty when none is close.
std::vector<std::string> closest_names(std::string_view given, const std::vector<std::string>& known);

// " (did you mean \"h800-sxm\"?)" or " (did you mean one of \"a\", \"b\"?)", or "" when none is close:
// to follow the quoted unknown name in an error.
std::string did_you_mean(std::string_view given, const std::vector<std::string>& known);

}  // namespace trainbench
