#include "config/json_limits.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include "common/errors.h"

namespace shardrt::config {
namespace {

using nlohmann::json;

constexpr std::size_t kBriefChars = 80;

std::string cut(std::string s) {
  if (s.size() > kBriefChars) s = s.substr(0, kBriefChars) + "...";
  return s;
}

// One open object or array while parsing: what is needed to name a key path and to find a
// key given twice.
struct Frame {
  bool is_object = false;
  std::set<std::string> keys;  // keys seen so far in this object
  std::string key;             // the current member's key
  std::size_t elements = 0;    // members or elements begun so far
};

// Follows nlohmann's parse events (a non-recursive parser: the depth the callback reports is
// its own stack of open containers) and throws at the first broken limit.
class LimitChecker {
 public:
  explicit LimitChecker(const std::string& source) : source_(source) {}

  bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        beginElement();
        if (static_cast<int>(frames_.size()) >= kMaxJsonDepth) {
          throw ConfigError(source_, "nested deeper than " + std::to_string(kMaxJsonDepth) +
                                         " levels (at " + path() + "), the limit for a JSON file");
        }
        frames_.push_back(Frame{event == json::parse_event_t::object_start, {}, {}, 0});
        break;
      case json::parse_event_t::key: {
        Frame& f = frames_.back();
        f.key = parsed.get<std::string>();
        ++f.elements;
        if (!f.keys.insert(f.key).second) {
          throw ConfigError(source_ + ": " + path(),
                            "is given twice in one object (only one would count: give it once)");
        }
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames_.pop_back();
        break;
      case json::parse_event_t::value:
        beginElement();
        break;
    }
    return true;
  }

 private:
  void beginElement() {
    if (!frames_.empty() && !frames_.back().is_object) ++frames_.back().elements;
  }

  // Dotted path of the current position, as JsonReader names fields: model.moe.experts,
  // strategies[1].name. Each key is quoted briefly, so a megabyte key cannot flood the line.
  std::string path() const {
    std::string p;
    for (const Frame& f : frames_) {
      if (f.is_object) {
        if (f.elements == 0) continue;
        const std::string quoted = json(f.key).dump(-1, ' ', false, json::error_handler_t::replace);
        p += (p.empty() ? "" : ".") + cut(quoted.substr(1, quoted.size() - 2));
      } else if (f.elements > 0) {
        p += "[" + std::to_string(f.elements - 1) + "]";
      }
    }
    return p.empty() ? "the top level" : p;
  }

  std::string source_;
  std::vector<Frame> frames_;
};

}  // namespace

std::string brief(const json& value) {
  return cut(value.dump(-1, ' ', false, json::error_handler_t::replace));
}

json parseJsonLimited(std::string_view text, const std::string& source) {
  if (text.size() > kMaxJsonBytes) {
    throw ConfigError(source, "is larger than " + std::to_string(kMaxJsonBytes >> 20) +
                                  " MiB, the limit for a JSON file");
  }
  try {
    LimitChecker check(source);
    return json::parse(text.begin(), text.end(), std::ref(check));
  } catch (const json::exception& e) {
    // parse_error, and out_of_range for a number past double's range (1e999): found by
    // fuzz_profile, it used to escape every reader and end `shardrt run` with exit 3.
    // Keep nlohmann's "parse error at line L, column C: ...", less its exception id. Its
    // message may quote the offending bytes: keep it to one line.
    std::string what = e.what();
    const auto id_end = what.find("] ");
    if (id_end != std::string::npos) what = what.substr(id_end + 2);
    // It quotes the offending bytes: keep the line printable (binary garbage, stray UTF-8).
    for (char& c : what) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u >= 0x7f) c = '?';
    }
    if (what.size() > 200) what = what.substr(0, 200) + "...";  // it quotes the bad token
    throw ConfigError(source, "malformed JSON: " + what);
  }
}

json readJsonFile(const std::string& path, const std::string& what) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    throw ConfigError(path, "the " + what + " is not a regular file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path, "cannot open the " + what);
  std::string text;
  char buf[1 << 16];
  while (in && text.size() <= kMaxJsonBytes) {
    in.read(buf, sizeof buf);
    text.append(buf, static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw ConfigError(path, "cannot read the " + what);
  // parseJsonLimited refuses what is over the cap; nothing past cap + 64 KiB was read.
  return parseJsonLimited(text, path);
}

}  // namespace shardrt::config
