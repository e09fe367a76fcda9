#include "harness/compare.hpp"

#include <cmath>
#include <set>

#include <fmt/format.h>

#include "harness/error.hpp"

namespace trainbench {
namespace {

std::string device_label(const Results& r) {
  const auto& d = r.context.device;
  return r.context.chip ? fmt::format("{} ({})", d.name, r.context.chip->id) : d.name;
}

std::string cell(const std::optional<double>& v, const char* spec) {
  return v ? fmt::format(fmt::runtime(spec), *v) : "-";
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

nlohmann::ordered_json optional_json(const std::optional<double>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

}  // namespace

Comparison compare_results(const std::vector<NamedResults>& files, const std::map<std::string, std::string>& pairs) {
  if (files.size() < 2) throw Error("compare needs at least two results files");
  Comparison c;
  const std::size_t n = files.size();
  std::vector<std::string> order;
  std::map<std::string, CompareRow> rows;
  for (std::size_t f = 0; f < n; ++f) {
    c.files.push_back(files[f].path);
    c.devices.push_back(device_label(files[f].results));
    for (const auto& original : files[f].results.benchmarks) {
      BenchmarkResult b = original;
      if (const auto p = pairs.find(b.impl); f > 0 && p != pairs.end()) b.impl = p->second;
      const std::string key = benchmark_key(b);
      auto [it, inserted] = rows.try_emplace(key);
      CompareRow& row = it->second;
      if (inserted) {
        order.push_back(key);
        row.name = b.name;
        row.op = b.op;
        row.impl = b.impl;
        row.unit = headline_unit(b);
        row.throughput.assign(n, std::nullopt);
        row.pct_of_peak.assign(n, std::nullopt);
        row.ratio.assign(n, std::nullopt);
        row.status.assign(n, "absent");
      }
      if (b.timed) {
        row.throughput[f] = headline_throughput(b);
        row.pct_of_peak[f] = b.pct_of_peak;
        row.status[f] = b.throttled ? "ok (throttled)" : "ok";
      } else {
        row.status[f] = b.error_message.empty() ? "not timed" : b.error_message;
      }
    }
  }

  std::map<std::string, std::vector<std::vector<double>>> logs;  // family -> per file log ratios
  for (const auto& key : order) {
    CompareRow& row = rows.at(key);
    for (std::size_t f = 0; f < n; ++f)
      if (row.throughput[0] && row.throughput[f] && *row.throughput[0] > 0)
        row.ratio[f] = *row.throughput[f] / *row.throughput[0];
    bool everywhere = true;
    for (const auto& s : row.status) everywhere = everywhere && s != "absent";
    if (!everywhere) {
      c.partial.push_back(row);
      continue;
    }
    auto& family = logs[row.op];
    family.resize(n);
    for (std::size_t f = 0; f < n; ++f)
      if (row.ratio[f] && *row.ratio[f] > 0) family[f].push_back(std::log(*row.ratio[f]));
    c.rows.push_back(row);
  }
  for (const auto& [family, per_file] : logs) {
    Comparison::Geomean g;
    for (const auto& v : per_file) {
      g.count.push_back(static_cast<int>(v.size()));
      if (v.empty()) {
        g.ratio.emplace_back(std::nullopt);
        continue;
      }
      double sum = 0;
      for (double x : v) sum += x;
      g.ratio.emplace_back(std::exp(sum / static_cast<double>(v.size())));
    }
    c.geomean[family] = g;
  }
  return c;
}

TableFormat table_format_from_name(const std::string& name) {
  if (name == "table") return TableFormat::Table;
  if (name == "markdown") return TableFormat::Markdown;
  if (name == "csv") return TableFormat::Csv;
  if (name == "json") return TableFormat::Json;
  throw Error(fmt::format("unknown format \"{}\"; choose table, markdown, csv or json", name));
}

std::string render_comparison(const Comparison& c, TableFormat format) {
  const std::size_t n = c.files.size();
  std::string out;
  if (format == TableFormat::Json) {
    nlohmann::ordered_json j;
    j["files"] = c.files;
    j["devices"] = c.devices;
    auto rows_json = [&](const std::vector<CompareRow>& rows) {
      auto arr = nlohmann::ordered_json::array();
      for (const auto& r : rows) {
        nlohmann::ordered_json o{{"name", r.name}, {"op", r.op}, {"impl", r.impl}, {"unit", r.unit}};
        o["throughput"] = nlohmann::ordered_json::array();
        o["pct_of_peak"] = nlohmann::ordered_json::array();
        o["ratio"] = nlohmann::ordered_json::array();
        for (std::size_t f = 0; f < n; ++f) {
          o["throughput"].push_back(optional_json(r.throughput[f]));
          o["pct_of_peak"].push_back(optional_json(r.pct_of_peak[f]));
          o["ratio"].push_back(optional_json(r.ratio[f]));
        }
        o["status"] = r.status;
        arr.push_back(o);
      }
      return arr;
    };
    j["rows"] = rows_json(c.rows);
    j["partial"] = rows_json(c.partial);
    j["geomean"] = nlohmann::ordered_json::object();
    for (const auto& [family, g] : c.geomean) {
      auto ratios = nlohmann::ordered_json::array();
      for (const auto& r : g.ratio) ratios.push_back(optional_json(r));
      j["geomean"][family] = {{"ratio", ratios}, {"count", g.count}};
    }
    return j.dump(2) + "\n";
  }

  // Header cells and one line of cells per row, then laid out per format.
  std::vector<std::string> header{"benchmark", "unit"};
  for (std::size_t f = 0; f < n; ++f) {
    const std::string tag = fmt::format("[{}]", f + 1);
    header.push_back(tag + " value");
    header.push_back(tag + " % peak");
    if (f > 0) header.push_back(tag + " / [1]");
  }
  auto row_cells = [&](const CompareRow& r) {
    std::vector<std::string> cells{r.name, r.unit};
    for (std::size_t f = 0; f < n; ++f) {
      cells.push_back(r.throughput[f] ? fmt::format("{:.1f}", *r.throughput[f])
                                      : (r.status[f] == "absent" ? "absent" : "failed"));
      cells.push_back(cell(r.pct_of_peak[f], "{:.1f}"));
      if (f > 0) cells.push_back(cell(r.ratio[f], "{:.3f}x"));
    }
    return cells;
  };
  std::vector<std::vector<std::string>> body;
  for (const auto& r : c.rows) body.push_back(row_cells(r));
  for (const auto& [family, g] : c.geomean) {
    std::vector<std::string> cells{fmt::format("geomean {} ({} rows)", family, g.count.empty() ? 0 : g.count.back()),
                                   ""};
    for (std::size_t f = 0; f < n; ++f) {
      cells.push_back("");
      cells.push_back("");
      if (f > 0) cells.push_back(cell(g.ratio[f], "{:.3f}x"));
    }
    body.push_back(cells);
  }

  if (format == TableFormat::Csv) {
    auto line = [&](const std::vector<std::string>& cells) {
      std::string l;
      for (std::size_t i = 0; i < cells.size(); ++i) l += (i ? "," : "") + csv_field(cells[i]);
      return l + "\n";
    };
    out += line(header);
    for (const auto& b : body) out += line(b);
    for (const auto& r : c.partial) out += line(row_cells(r));
    return out;
  }

  for (std::size_t f = 0; f < n; ++f) out += fmt::format("[{}] {}: {}\n", f + 1, c.files[f], c.devices[f]);
  out += "\n";
  if (format == TableFormat::Markdown) {
    auto line = [](const std::vector<std::string>& cells) {
      std::string l = "|";
      for (const auto& x : cells) l += " " + x + " |";
      return l + "\n";
    };
    out += line(header);
    std::string rule = "|";
    for (std::size_t i = 0; i < header.size(); ++i) rule += i < 2 ? " --- |" : " ---: |";
    out += rule + "\n";
    for (const auto& b : body) out += line(b);
    if (!c.partial.empty()) {
      out += "\nPresent in only some files:\n\n" + line(header) + rule + "\n";
      for (const auto& r : c.partial) out += line(row_cells(r));
    }
    return out;
  }

  std::vector<std::size_t> width(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) width[i] = std::max(width[i], cells[i].size());
  };
  measure(header);
  for (const auto& b : body) measure(b);
  for (const auto& r : c.partial) measure(row_cells(r));
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (std::size_t i = 0; i < cells.size(); ++i)
      l += (i ? "  " : "") + (i < 2 ? fmt::format("{:<{}}", cells[i], width[i]) : fmt::format("{:>{}}", cells[i], width[i]));
    while (!l.empty() && l.back() == ' ') l.pop_back();
    return l + "\n";
  };
  out += line(header);
  for (const auto& b : body) out += line(b);
  if (!c.partial.empty()) {
    out += "\npresent in only some files:\n";
    for (const auto& r : c.partial) out += line(row_cells(r));
  }
  return out;
}

}  // namespace trainbench
