#include "dag/dag_render.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>

#include "common/atomic_file.h"

namespace shardrt::dag {
namespace {

constexpr int kColumnWidth = 260, kNodeWidth = 220, kNodeHeight = 34, kRowGap = 14;

std::string escapeXml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// dot's exit status, or -1 when it could not run to the end (missing, killed by the timeout).
// dot writes a temporary beside svg_path, renamed over it only when dot succeeded, so a dot
// killed half-way never leaves a partial SVG (common/atomic_file.h's rule for our own writes).
int runDot(const std::string& dot_path, const std::string& svg_path) {
  const std::string temp = svg_path + ".tmp.dot." + std::to_string(::getpid());
  const std::string command = "timeout " + std::to_string(kDotSeconds) + " dot -Tsvg -o '" + temp +
                              "' '" + dot_path + "' 2>/dev/null";
  const int status = std::system(command.c_str());
  const int result = status == -1 || !WIFEXITED(status) ? -1 : WEXITSTATUS(status);
  if (result == 0 && std::rename(temp.c_str(), svg_path.c_str()) != 0) {
    std::remove(temp.c_str());
    throw FileWriteError(svg_path, std::strerror(errno));
  }
  std::remove(temp.c_str());
  return result;
}

}  // namespace

void writeLayeredSvg(const DeploymentGraph& g, const std::string& svg_path) {
  // Column per GPU, then one for nodes of several GPUs; rows in creation (execution) order.
  const int gpus = g.info.gpus;
  std::vector<int> column(g.nodes.size()), row(g.nodes.size());
  std::vector<int> rows(gpus + 1, 0);
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const auto& n = g.nodes[i];
    column[i] = n.gpus.size() == 1 && n.gpus[0] < gpus ? n.gpus[0] : gpus;
    row[i] = rows[column[i]]++;
  }
  const int height = (*std::max_element(rows.begin(), rows.end()) + 2) * (kNodeHeight + kRowGap);
  const int width = (gpus + 1) * kColumnWidth + 40;
  writeFileAtomically(svg_path, [&](std::ostream& out) {
    out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\""
        << height + 60 << "\" font-family=\"Helvetica\" font-size=\"10\">\n";
    out << "<text x=\"20\" y=\"20\" font-size=\"14\">" << escapeXml(g.info.title) << "</text>\n";
    for (int c = 0; c <= gpus; ++c) {
      out << "<rect x=\"" << 20 + c * kColumnWidth << "\" y=\"30\" width=\"" << kColumnWidth - 10
          << "\" height=\"" << height << "\" fill=\"none\" stroke=\"#999\"/>\n";
      out << "<text x=\"" << 28 + c * kColumnWidth << "\" y=\"46\">"
          << (c < gpus ? "GPU " + std::to_string(c) : std::string("several GPUs")) << "</text>\n";
    }
    auto x = [&](std::size_t i) { return 35 + column[i] * kColumnWidth; };
    auto y = [&](std::size_t i) { return 56 + row[i] * (kNodeHeight + kRowGap); };
    if (g.edges.size() <= kSvgEdgeLimit) {
      for (const auto& e : g.edges) {
        out << "<line x1=\"" << x(e.from) + kNodeWidth / 2 << "\" y1=\"" << y(e.from) + kNodeHeight
            << "\" x2=\"" << x(e.to) + kNodeWidth / 2 << "\" y2=\"" << y(e.to)
            << "\" stroke=\"#555\" stroke-width=\"0.6\""
            << (e.gate ? " stroke-dasharray=\"4,3\"" : "") << "/>\n";
      }
    } else {
      out << "<text x=\"20\" y=\"" << height + 50 << "\">" << g.edges.size()
          << " edges left out of this drawing; the .dot file has them all</text>\n";
    }
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      const auto& n = g.nodes[i];
      const int x0 = x(i), y0 = y(i);
      if (n.kind == "comm") {
        out << "<ellipse cx=\"" << x0 + kNodeWidth / 2 << "\" cy=\"" << y0 + kNodeHeight / 2
            << "\" rx=\"" << kNodeWidth / 2 << "\" ry=\"" << kNodeHeight / 2
            << "\" fill=\"#e8f0ff\" stroke=\"black\"/>\n";
      } else if (n.kind == "route") {
        out << "<polygon points=\"" << x0 + 10 << "," << y0 << " " << x0 + kNodeWidth << "," << y0
            << " " << x0 + kNodeWidth - 10 << "," << y0 + kNodeHeight << " " << x0 << ","
            << y0 + kNodeHeight << "\" fill=\"#fff4e0\" stroke=\"black\"/>\n";
      } else {
        out << "<rect x=\"" << x0 << "\" y=\"" << y0 << "\" width=\"" << kNodeWidth
            << "\" height=\"" << kNodeHeight << "\" fill=\"white\" stroke=\"black\"/>\n";
      }
      std::string where = n.layer >= 0 ? "layer " + std::to_string(n.layer) : "";
      if (!n.outputs.empty()) {
        where += ' ';
        where += n.outputs[0].str();
      }
      out << "<text x=\"" << x0 + 8 << "\" y=\"" << y0 + 14 << "\">" << escapeXml(n.title)
          << "</text>\n<text x=\"" << x0 + 8 << "\" y=\"" << y0 + 27 << "\">" << escapeXml(where)
          << "</text>\n";
    }
    out << "</svg>\n";
  });
}

std::string renderSvg(const DeploymentGraph& g, const std::string& dot_path,
                      const std::string& svg_path) {
  if (g.nodes.size() > kDotNodeLimit) {
    writeLayeredSvg(g, svg_path);
    return "shardrt-layered (" + std::to_string(g.nodes.size()) + " nodes, over dot's limit of " +
           std::to_string(kDotNodeLimit) + ")";
  }
  const int status = runDot(dot_path, svg_path);
  if (status == 0) return "dot";
  writeLayeredSvg(g, svg_path);
  return status == 124 ? "shardrt-layered (dot ran past " + std::to_string(kDotSeconds) + " s)"
                       : "shardrt-layered (dot failed or is not installed: exit " +
                             std::to_string(status) + ")";
}

}  // namespace shardrt::dag
