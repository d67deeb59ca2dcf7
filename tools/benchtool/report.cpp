// The report: a Markdown table of every row, a ratio-to-native matrix, and an SVG bar chart of the ratios.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "benchtool.hpp"

namespace benchtool {
namespace {

// Programs that measure the cost of a call into the VM rather than computation: their ratio to native is
// reported but not held against the "compiler within 2x of native" goal.
const std::set<std::string> kCallOverheadPrograms = {"minimal"};

constexpr double kGoal = 2.0;
constexpr double kStretchGoal = 1.3;

std::string format_ratio(double ratio) {
  if (ratio < 10) return fmt::format("{:.2f}×", ratio);
  if (ratio < 100) return fmt::format("{:.1f}×", ratio);
  return fmt::format("{:.0f}×", ratio);
}

std::string optional_duration(const std::optional<double>& seconds) {
  return seconds ? format_duration(*seconds) : "–";
}

std::string group_name(const Measurement& row) { return row.rv32 ? row.program + " (rv32)" : row.program; }

std::string config_name(const Measurement& row) {
  return row.gas ? fmt::format("{} gas={}", row.runner, polkavm::gas_metering_name(*row.gas)) : row.runner;
}

/// The VM configurations in the order they first appear.
std::vector<std::string> vm_configs(const std::vector<Measurement>& rows) {
  std::vector<std::string> configs;
  for (const auto& row : rows)
    if (row.gas && std::find(configs.begin(), configs.end(), config_name(row)) == configs.end())
      configs.push_back(config_name(row));
  return configs;
}

/// (program, rv32) groups in the order they first appear; native rows belong to the rv64 group.
std::vector<std::pair<std::string, bool>> groups(const std::vector<Measurement>& rows) {
  std::vector<std::pair<std::string, bool>> result;
  for (const auto& row : rows) {
    std::pair<std::string, bool> key{row.program, row.rv32};
    if (std::find(result.begin(), result.end(), key) == result.end()) result.push_back(key);
  }
  return result;
}

std::string status(const Measurement& row) {
  if (!row.skipped.empty()) return "skipped";
  if (!row.error.empty()) return row.checksum ? fmt::format("**error** ({})", *row.checksum) : "**error**";
  if (!row.checksum) return "–";
  return row.gas ? fmt::format("ok ({})", *row.checksum) : fmt::format("{}", *row.checksum);
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string format_duration(double seconds) {
  struct Unit {
    double scale;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{1, "s"}, {1e-3, "ms"}, {1e-6, "µs"}, {1e-9, "ns"}};
  for (const Unit& unit : kUnits) {
    if (seconds >= unit.scale || unit.scale == 1e-9) {
      double value = seconds / unit.scale;
      if (value >= 100) return fmt::format("{:.0f} {}", value, unit.name);
      if (value >= 10) return fmt::format("{:.1f} {}", value, unit.name);
      return fmt::format("{:.2f} {}", value, unit.name);
    }
  }
  return "?";
}

std::optional<double> ratio_to_native(const Measurement& row, const std::vector<Measurement>& rows,
                                      std::string_view baseline) {
  if (!row.ok() || !row.execution || row.runner == baseline) return std::nullopt;
  for (const auto& native : rows) {
    if (native.runner == baseline && native.program == row.program) {
      if (!native.ok() || !native.execution || native.execution->best <= 0) return std::nullopt;
      return row.execution->best / native.execution->best;
    }
  }
  return std::nullopt;
}

std::string markdown_report(const std::vector<Measurement>& rows, const ReportInfo& info) {
  std::string out;
  out += "## Guest programs: native, interpreter and compiler\n\n";
  out += fmt::format("`{}`\n\n", info.command);
  out += fmt::format(
      "Times per call of `run({})`{}, best of {} samples, {}:\n\n"
      "- **execution**: one call on a warm instance (each sample on a new instance, after its first call), "
      "the best sample; **median** shows the noise. Rows take their samples in turn, round by round; short "
      "calls are timed in batches.\n"
      "- **oneshot**: module creation + instantiation + one call; for native, a fresh `native-<name> ARG` "
      "process (spawn, exec, one call).\n"
      "- **compile**: module creation from the blob's bytes (parse, validate, and on the compiler translate).\n"
      "- **× native**: execution time over native execution time; **× scalar**: over the same source built "
      "without auto-vectorisation (`-fno-tree-vectorize`; the `native-scalar` row), the fair baseline for "
      "kernels a compiler would vectorise, since PolkaVM has no vector instructions.\n"
      "- native execution: {}.\n"
      "- compiler sandbox: {}.\n\n",
      info.arg, info.arg == 0 ? " (each program's benchmark-sized workload)" : "", info.repetitions,
      info.time_source == TimeSource::ThreadCpu
          ? "in CPU time (the thread's, so time spent descheduled on a busy machine does not count; for a "
            "spawned process, its user + system time)"
          : "in wall-clock time",
      info.native_timing == NativeTiming::InProcess
          ? "the program's source built as a shared library with the twin's compiler and flags, called in "
            "benchtool's process, sampled like the VM"
          : "the best of the per-call means printed by `native-<name> ARG REPEAT` (wall-clock, whatever "
            "--clock says)",
      info.sandbox);

  if (std::any_of(rows.begin(), rows.end(), [](const Measurement& row) { return row.program == "doom"; }))
    out += fmt::format(
        "Doom (the reference's example, with Debian's Freedoom WAD): **execution** is {} ticks (`ext_tick`) of a "
        "game already running; **oneshot** is module creation + instantiation + `ext_initialize` + one tick. "
        "Each row is checked against the reference's results first (the frames' FNV-1a 64 checksum after 0 and "
        "10 ticks and, metered, the gas used); **checksum** shows the low 32 bits of the one after 10 ticks. "
        "There is no native Doom.\n\n",
        kDoomTicks);
  if (std::any_of(rows.begin(), rows.end(), [](const Measurement& row) { return row.runner.starts_with("link"); }))
    out += "Doom's ELFs: **execution** is one `polkatool link` (a process: its user + system time, or wall time), "
           "keeping the debug information or with `--strip`; **checksum** shows the low 32 bits of the blob's "
           "FNV-1a 64, the same for every link.\n\n";
  out += "| program | runner | gas | compile | oneshot | execution | median | × native | × scalar | checksum |\n";
  out += "|:--|:--|:--|--:|--:|--:|--:|--:|--:|:--|\n";
  for (const auto& row : rows) {
    auto ratio_text = [&](std::string_view baseline) {
      if (auto ratio = ratio_to_native(row, rows, baseline)) return format_ratio(*ratio);
      return std::string(row.runner == baseline && row.ok() ? "1" : "–");
    };
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", group_name(row), row.runner,
                       row.gas ? polkavm::gas_metering_name(*row.gas) : "–", optional_duration(row.compile),
                       optional_duration(row.oneshot),
                       row.execution ? format_duration(row.execution->best) : "–",
                       row.execution ? format_duration(row.execution->median) : "–", ratio_text("native"),
                       ratio_text(kScalarNative), status(row));
  }

  // The ratios side by side, to each baseline.
  auto configs = vm_configs(rows);
  auto matrix = [&](std::string_view baseline, std::string_view title) {
    out += fmt::format("\n### Execution time relative to {}\n\n| program |", title);
    for (const auto& config : configs) out += fmt::format(" {} |", config);
    out += "\n|:--|";
    for (size_t i = 0; i < configs.size(); ++i) out += "--:|";
    out += "\n";
    for (const auto& [program, rv32] : groups(rows)) {
      bool any = false;
      std::string line = fmt::format("| {} |", rv32 ? program + " (rv32)" : program);
      for (const auto& config : configs) {
        std::string cell = "–";
        for (const auto& row : rows) {
          if (row.program == program && row.rv32 == rv32 && row.gas && config_name(row) == config) {
            any = true;
            if (auto ratio = ratio_to_native(row, rows, baseline)) cell = format_ratio(*ratio);
            else if (!row.skipped.empty()) cell = "skipped";
            else if (!row.error.empty()) cell = "error";
          }
        }
        line += fmt::format(" {} |", cell);
      }
      if (any) out += line + "\n";
    }
  };
  const bool any_scalar = std::any_of(rows.begin(), rows.end(), [](const Measurement& row) {
    return row.runner == kScalarNative && row.ok() && row.execution;
  });
  if (!configs.empty()) {
    matrix("native", "native");
    if (any_scalar) matrix(kScalarNative, "native without auto-vectorisation (× scalar)");
  }

  // The goal: compiler execution within 2x of native (stretch: 1.3x) on the compute benchmarks.
  std::vector<std::string> stretch, goal, missed, not_compute;
  for (const auto& row : rows) {
    if (row.runner != "compiler" || row.gas != polkavm::GasMeteringKind::None) continue;
    auto ratio = ratio_to_native(row, rows);
    if (!ratio) continue;
    std::string item = fmt::format("{} {}", group_name(row), format_ratio(*ratio));
    if (auto scalar = ratio_to_native(row, rows, kScalarNative)) item += fmt::format(" (scalar {})", format_ratio(*scalar));
    if (kCallOverheadPrograms.contains(row.program)) not_compute.push_back(item);
    else if (*ratio <= kStretchGoal) stretch.push_back(item);
    else if (*ratio <= kGoal) goal.push_back(item);
    else missed.push_back(item);
  }
  if (stretch.size() + goal.size() + missed.size() + not_compute.size() > 0) {
    auto list = [](const std::vector<std::string>& items) {
      std::string text;
      for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
      return text.empty() ? std::string("none") : text;
    };
    out += "\n### Compiler (gas=none) against the goal (execution ≤ 2× native, stretch ≤ 1.3×)\n\n";
    out += fmt::format("- within 1.3×: {}\n", list(stretch));
    out += fmt::format("- within 2× (not 1.3×): {}\n", list(goal));
    out += fmt::format("- above 2×: {}\n", list(missed));
    if (!not_compute.empty()) out += fmt::format("- call overhead, not a compute benchmark: {}\n", list(not_compute));
  }

  bool any_error = false, any_skipped = false;
  for (const auto& row : rows) {
    any_error |= !row.error.empty();
    any_skipped |= !row.skipped.empty();
  }
  if (any_error) {
    out += "\n### Errors\n\n";
    for (const auto& row : rows)
      if (!row.error.empty()) out += fmt::format("- {}: {}\n", row.label(), row.error);
  }
  if (any_skipped) {
    out += "\n### Skipped\n\n";
    for (const auto& row : rows)
      if (!row.skipped.empty()) out += fmt::format("- {}: {}\n", row.label(), row.skipped);
  }
  return out;
}

std::string svg_chart(const std::vector<Measurement>& rows, double clip) {
  // Colours per configuration: blues for the interpreter, oranges for the compiler, darker = more gas work.
  static const std::map<std::string, std::string> kColours = {
      {"interpreter gas=none", "#9ecae1"}, {"interpreter gas=sync", "#4292c6"}, {"interpreter gas=async", "#08519c"},
      {"compiler gas=none", "#fdae6b"},    {"compiler gas=sync", "#f16913"},    {"compiler gas=async", "#a63603"}};
  auto colour = [](const std::string& config) {
    auto it = kColours.find(config);
    return it == kColours.end() ? std::string("#888888") : it->second;
  };

  // The axis: 1-2-5 steps covering the ratios (at least 1 to 2), up to `clip`.
  auto steps = [](double lo, double hi) {
    std::vector<double> values;
    for (int decade = -3; decade <= 6; ++decade)
      for (double m : {1.0, 2.0, 5.0}) {
        double v = m * std::pow(10.0, decade);
        if (v >= lo * 0.999 && v <= hi * 1.001) values.push_back(v);
      }
    return values;
  };
  double min_ratio = 1, max_ratio = 2;
  for (const auto& row : rows)
    if (auto r = ratio_to_native(row, rows)) {
      min_ratio = std::min(min_ratio, *r);
      max_ratio = std::max(max_ratio, *r);
    }
  auto round_down = [&](double v) {
    auto s = steps(1e-3, 1e6);
    double best = s.front();
    for (double x : s)
      if (x <= v) best = x;
    return best;
  };
  auto round_up = [&](double v) {
    for (double x : steps(1e-3, 1e6))
      if (x >= v) return x;
    return 1e6;
  };
  const double lo = round_down(min_ratio);
  const double hi = round_up(std::min(max_ratio, std::max(clip, 2.0)));

  const double left = 170, plot_width = 620, right = 80, top = 100, bar = 11, bar_gap = 2, group_gap = 14;
  const double width = left + plot_width + right;
  auto x_of = [&](double ratio) {
    ratio = std::clamp(ratio, lo, hi);
    return left + plot_width * (std::log(ratio) - std::log(lo)) / (std::log(hi) - std::log(lo));
  };

  std::string body;
  double y = top;
  for (const auto& [program, rv32] : groups(rows)) {
    std::vector<const Measurement*> bars;
    for (const auto& row : rows)
      if (row.program == program && row.rv32 == rv32 && row.gas) bars.push_back(&row);
    if (bars.empty()) continue;
    double group_height = static_cast<double>(bars.size()) * (bar + bar_gap) - bar_gap;
    body += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end" class="group">{}</text>)"
                        "\n",
                        left - 10, y + group_height / 2 + 4, xml_escape(rv32 ? program + " (rv32)" : program));
    for (const Measurement* row : bars) {
      auto ratio = ratio_to_native(*row, rows);
      if (ratio) {
        double end = x_of(*ratio);
        body += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{}" fill="{}">)"
                            R"(<title>{}: {}</title></rect>)"
                            "\n",
                            left, y, std::max(end - left, 1.0), bar, colour(config_name(*row)),
                            xml_escape(row->label()), format_ratio(*ratio));
        bool clipped = *ratio > hi;
        if (clipped)  // an arrow head past the edge says "more than the axis shows"
          body += fmt::format(R"(<path d="M{:.1f},{:.1f} l6,{:.1f} l-6,{:.1f} z" fill="{}"/>)"
                              "\n",
                              end, y, bar / 2, bar / 2, colour(config_name(*row)));
        body += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" class="value">{}</text>)"
                            "\n",
                            end + (clipped ? 10 : 4), y + bar - 2, format_ratio(*ratio));
      } else {
        body += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" class="value missing">{} {}</text>)"
                            "\n",
                            left + 4, y + bar - 2, xml_escape(config_name(*row)),
                            row->skipped.empty() ? "error" : "skipped");
      }
      y += bar + bar_gap;
    }
    y += group_gap;
  }
  const double plot_bottom = y - group_gap + 6;
  const double height = plot_bottom + 30;

  std::string svg;
  svg += fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0:.0f}" height="{1:.0f}" viewBox="0 0 {0:.0f} {1:.0f}" )"
      R"(font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">)"
      "\n",
      width, height);
  svg += "<style>.group{font-size:12px;font-weight:bold}"
         ".value{font-size:10px;fill:#333;paint-order:stroke;stroke:white;stroke-width:3px}.missing{fill:#b00}"
         ".tick{font-size:10px;fill:#555}.grid{stroke:#ddd;stroke-width:1}.goal{stroke-width:1.5;stroke-dasharray:5,3}"
         "</style>\n";
  svg += R"(<rect width="100%" height="100%" fill="white"/>)"
         "\n";
  svg += fmt::format(R"(<text x="{:.1f}" y="20" font-size="14" font-weight="bold">Guest program execution time )"
                     R"(relative to native (log scale, lower is better)</text>)"
                     "\n",
                     left - 160);

  // Legend: a row of swatches per runner, then the goal lines.
  double lx = left - 160, ly = 38;
  std::string previous_runner;
  for (const auto& config : vm_configs(rows)) {
    std::string runner = config.substr(0, config.find(' '));
    if (!previous_runner.empty() && runner != previous_runner) {
      lx = left - 160;
      ly += 16;
    }
    previous_runner = runner;
    svg += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="12" height="10" fill="{}"/>)"
                       R"(<text x="{:.1f}" y="{:.1f}">{}</text>)"
                       "\n",
                       lx, ly, colour(config), lx + 16, ly + 9, xml_escape(config));
    lx += 170;
  }
  ly += 22;
  svg += fmt::format(R"(<line x1="{0:.1f}" x2="{1:.1f}" y1="{2:.1f}" y2="{2:.1f}" class="goal" stroke="#2ca02c"/>)"
                     R"(<text x="{3:.1f}" y="{4:.1f}">goal: 2× native</text>)"
                     R"(<line x1="{5:.1f}" x2="{6:.1f}" y1="{2:.1f}" y2="{2:.1f}" class="goal" stroke="#9467bd"/>)"
                     R"(<text x="{7:.1f}" y="{4:.1f}">stretch goal: 1.3×</text>)"
                     "\n",
                     left - 160, left - 140, ly, left - 136, ly + 4, left, left + 20, left + 24);

  // Grid and ticks.
  for (double v : steps(lo, hi)) {
    double x = x_of(v);
    svg += fmt::format(R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1:.1f}" y2="{2:.1f}" class="grid"/>)"
                       R"(<text x="{0:.1f}" y="{3:.1f}" text-anchor="middle" class="tick">{4}×</text>)"
                       "\n",
                       x, top - 6, plot_bottom, plot_bottom + 14,
                       v >= 1 ? fmt::format("{:g}", v) : fmt::format("{:.2g}", v));
  }
  for (auto [goal, stroke] : {std::pair{kGoal, "#2ca02c"}, std::pair{kStretchGoal, "#9467bd"}}) {
    if (goal < lo || goal > hi) continue;
    svg += fmt::format(R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1:.1f}" y2="{2:.1f}" class="goal" stroke="{3}"/>)"
                       "\n",
                       x_of(goal), top - 6, plot_bottom, stroke);
  }
  svg += fmt::format(R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1:.1f}" y2="{2:.1f}" stroke="#333"/>)"
                     "\n",
                     left, top - 6, plot_bottom);
  if (max_ratio > hi)
    svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end" class="tick">)"
                       R"(bars past {}× are clipped (▶)</text>)"
                       "\n",
                       left + plot_width, height - 4, fmt::format("{:g}", hi));
  svg += body;
  svg += "</svg>\n";
  return svg;
}

}  // namespace benchtool
