#include "dag/dot_reader.h"

#include <cctype>
#include <iterator>
#include <optional>
#include <unordered_map>
#include <utility>

namespace shardrt::dag {

DotParseError::DotParseError(int line, const std::string& reason)
    : std::runtime_error("line " + std::to_string(line) + ": " + reason),
      line_(line),
      reason_(reason) {}

namespace {

enum class Tok {
  kId,      // bare word or numeral
  kString,  // double-quoted, decoded
  kLBrace,
  kRBrace,
  kLBracket,
  kRBracket,
  kEquals,
  kComma,
  kSemicolon,
  kArrow,       // ->
  kUndirected,  // --
  kEnd,
};

struct Token {
  Tok type = Tok::kEnd;
  std::string text;
  int line = 1;
  bool isId() const { return type == Tok::kId || type == Tok::kString; }
  // Keywords only count bare: a quoted "node" is a node's name.
  bool isKeyword(const char* word) const { return type == Tok::kId && text == word; }
};

std::string describe(const Token& t) {
  switch (t.type) {
    case Tok::kEnd:
      return "the end of the file";
    case Tok::kString:
      return "\"" + t.text + "\"";
    default:
      return "'" + t.text + "'";
  }
}

bool isBareChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || c == '.' || u >= 0x80;
}

class Lexer {
 public:
  explicit Lexer(std::string text) : src_(std::move(text)) {}

  const Token& peek() {
    if (!ahead_) ahead_ = scan();
    return *ahead_;
  }

  Token next() {
    Token t = peek();
    ahead_.reset();
    return t;
  }

 private:
  bool at(std::size_t i, char c) const { return i < src_.size() && src_[i] == c; }

  void skipLine() {
    while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
  }

  void skipBlockComment() {
    const int opened = line_;
    pos_ += 2;
    while (pos_ < src_.size() && !(src_[pos_] == '*' && at(pos_ + 1, '/'))) {
      if (src_[pos_] == '\n') ++line_;
      ++pos_;
    }
    if (pos_ >= src_.size()) throw DotParseError(opened, "unterminated /* comment");
    pos_ += 2;
  }

  void skipSpaceAndComments() {
    while (pos_ < src_.size()) {
      const char c = src_[pos_];
      const bool line_start = pos_ == 0 || src_[pos_ - 1] == '\n';
      if (c == '\n') {
        ++line_;
        ++pos_;
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        ++pos_;
      } else if (c == '/' && at(pos_ + 1, '/')) {
        skipLine();
      } else if (c == '/' && at(pos_ + 1, '*')) {
        skipBlockComment();
      } else if (c == '#' && line_start) {  // DOT ignores C preprocessor output lines
        skipLine();
      } else {
        return;
      }
    }
  }

  // A raw newline inside quotes is taken for a missing closing quote: shardrt never writes
  // one, and reading on would swallow the rest of the file into one string.
  Token scanString() {
    Token t{Tok::kString, "", line_};
    ++pos_;
    while (true) {
      if (pos_ >= src_.size() || src_[pos_] == '\n') {
        throw DotParseError(t.line, "unterminated string");
      }
      const char c = src_[pos_++];
      if (c == '"') return t;
      if (c != '\\' || pos_ >= src_.size()) {
        t.text += c;
        continue;
      }
      const char e = src_[pos_++];
      if (e == 'n' || e == 'l' || e == 'r') {
        t.text += '\n';
      } else if (e == '"' || e == '\\') {
        t.text += e;
      } else if (e == '\n') {  // a backslash-newline continues the string on the next line
        ++line_;
      } else {
        t.text += '\\';
        t.text += e;
      }
    }
  }

  Token scanBare() {
    Token t{Tok::kId, "", line_};
    if (src_[pos_] == '-') t.text += src_[pos_++];
    while (pos_ < src_.size() && isBareChar(src_[pos_])) t.text += src_[pos_++];
    if (t.text.empty() || t.text == "-") {
      throw DotParseError(line_, "unexpected character '" + std::string(1, src_[pos_]) + "'");
    }
    return t;
  }

  Token punct(Tok type, std::size_t length) {
    Token t{type, src_.substr(pos_, length), line_};
    pos_ += length;
    return t;
  }

  Token scan() {
    skipSpaceAndComments();
    if (pos_ >= src_.size()) return Token{Tok::kEnd, "", line_};
    switch (src_[pos_]) {
      case '"':
        return scanString();
      case '{':
        return punct(Tok::kLBrace, 1);
      case '}':
        return punct(Tok::kRBrace, 1);
      case '[':
        return punct(Tok::kLBracket, 1);
      case ']':
        return punct(Tok::kRBracket, 1);
      case '=':
        return punct(Tok::kEquals, 1);
      case ',':
        return punct(Tok::kComma, 1);
      case ';':
        return punct(Tok::kSemicolon, 1);
      case '-':
        if (at(pos_ + 1, '>')) return punct(Tok::kArrow, 2);
        if (at(pos_ + 1, '-')) return punct(Tok::kUndirected, 2);
        return scanBare();
      default:
        return scanBare();
    }
  }

  std::string src_;
  std::size_t pos_ = 0;
  int line_ = 1;
  std::optional<Token> ahead_;
};

// What a `{ ... }` block inherits and where its statements land.
struct Scope {
  DotAttrs node_defaults;
  DotAttrs edge_defaults;
  std::string cluster;  // "" outside clusters
  int cluster_index = -1;
};

class Parser {
 public:
  explicit Parser(std::string text) : lex_(std::move(text)) {}

  DotGraph parse() {
    Token t = take();
    if (t.isKeyword("strict")) t = take();
    if (t.isKeyword("graph")) {
      throw DotParseError(t.line, "an undirected graph: shardrt writes a digraph");
    }
    if (!t.isKeyword("digraph")) {
      throw DotParseError(t.line, "expected 'digraph', found " + describe(t));
    }
    if (lex_.peek().isId()) graph_.name = take().text;
    const Token open = expect(Tok::kLBrace, "'{' after the graph's name");
    parseBlock(Scope{}, open.line, 1);
    if (lex_.peek().type != Tok::kEnd) {
      throw DotParseError(lex_.peek().line,
                          "unexpected " + describe(lex_.peek()) + " after the end of the graph");
    }
    return std::move(graph_);
  }

 private:
  Token take() {
    Token t = lex_.next();
    if (t.type != Tok::kEnd) last_line_ = t.line;
    return t;
  }

  Token expect(Tok type, const std::string& what) {
    const Token& t = lex_.peek();
    if (t.type != type) throw DotParseError(t.line, "expected " + what + ", found " + describe(t));
    return take();
  }

  // Statements up to the closing '}', which it consumes. depth: blocks open, this one included;
  // each level is a recursion through parseStatement and parseSubgraph, hence the cap.
  void parseBlock(Scope scope, int open_line, int depth) {
    if (depth > kMaxDotNesting) {
      throw DotParseError(open_line, "blocks nested deeper than " + std::to_string(kMaxDotNesting) +
                                         " levels, the limit for a DOT file");
    }
    while (true) {
      const Token& t = lex_.peek();
      if (t.type == Tok::kRBrace) {
        take();
        return;
      }
      if (t.type == Tok::kEnd) {
        throw DotParseError(last_line_, "missing '}' to close the block opened on line " +
                                            std::to_string(open_line));
      }
      if (t.type == Tok::kSemicolon) {
        take();
        continue;
      }
      parseStatement(scope, depth);
      endStatement();
    }
  }

  // One statement per line: anything after a statement on its own line is not shardrt's DOT
  // (and would otherwise be read as a second node, since DOT needs no separator).
  void endStatement() {
    const Token& t = lex_.peek();
    if (t.type == Tok::kSemicolon) {
      take();
    } else if (t.type != Tok::kRBrace && t.type != Tok::kEnd && t.line == last_line_) {
      throw DotParseError(t.line, "unknown statement: unexpected " + describe(t));
    }
  }

  void parseStatement(Scope& scope, int depth) {
    const Token t = take();
    if (t.isKeyword("graph")) {
      mergeInto(scopeAttrs(scope), parseAttrLists(true));
    } else if (t.isKeyword("node")) {
      mergeInto(scope.node_defaults, parseAttrLists(true));
    } else if (t.isKeyword("edge")) {
      mergeInto(scope.edge_defaults, parseAttrLists(true));
    } else if (t.isKeyword("subgraph") || t.type == Tok::kLBrace) {
      parseSubgraph(scope, t, depth);
    } else if (t.isId()) {
      parseIdStatement(scope, t);
    } else {
      throw DotParseError(t.line, "unknown statement starting with " + describe(t));
    }
  }

  void parseSubgraph(const Scope& outer, const Token& first, int depth) {
    Scope inner = outer;
    Token open = first;
    if (first.type != Tok::kLBrace) {
      if (lex_.peek().isId()) {
        const Token name = take();
        if (name.text.starts_with("cluster")) enterCluster(inner, name);
      }
      open = expect(Tok::kLBrace, "'{' to open the subgraph");
    }
    parseBlock(std::move(inner), open.line, depth + 1);
  }

  void enterCluster(Scope& scope, const Token& name) {
    const std::string parent = scope.cluster;
    scope.cluster = name.text;
    // A map, not a scan of the list: millions of distinct clusters must not be quadratic.
    const auto [it, added] =
        cluster_index_.emplace(name.text, static_cast<int>(graph_.clusters.size()));
    scope.cluster_index = it->second;
    if (added) graph_.clusters.push_back(DotCluster{name.text, {}, name.line, parent});
  }

  DotAttrs& scopeAttrs(const Scope& scope) {
    return scope.cluster_index < 0 ? graph_.attrs : graph_.clusters[scope.cluster_index].attrs;
  }

  // A statement that starts with a name: `key=value`, a node or an edge chain.
  void parseIdStatement(Scope& scope, const Token& first) {
    const Tok after = lex_.peek().type;
    if (after == Tok::kEquals) {
      take();
      const Token value = lex_.peek();
      if (!value.isId() || value.line != first.line) {
        throw DotParseError(first.line, "missing value for " + first.text);
      }
      scopeAttrs(scope)[first.text] = take().text;
    } else if (after == Tok::kArrow) {
      parseEdges(scope, first);
    } else if (after == Tok::kUndirected) {
      throw DotParseError(lex_.peek().line, "'--' is an undirected edge; shardrt writes '->'");
    } else {
      DotAttrs attrs = scope.node_defaults;
      mergeInto(attrs, parseAttrLists(false));
      hold(attrs);
      graph_.nodes.push_back(DotNode{first.text, std::move(attrs), scope.cluster, first.line});
    }
  }

  void parseEdges(const Scope& scope, const Token& first) {
    std::vector<std::string> ends{first.text};
    while (lex_.peek().type == Tok::kArrow) {
      take();
      const Token& t = lex_.peek();
      if (!t.isId()) {
        throw DotParseError(t.line, "expected a node name after '->', found " + describe(t));
      }
      ends.push_back(take().text);
      if (ends.size() > kMaxDotStatements) {
        throw DotParseError(last_line_, "an edge chain of more than " +
                                            std::to_string(kMaxDotStatements) +
                                            " edges, the limit for a DOT file");
      }
    }
    DotAttrs attrs = scope.edge_defaults;
    mergeInto(attrs, parseAttrLists(false));
    for (std::size_t i = 0; i + 1 < ends.size(); ++i) {
      hold(attrs);
      graph_.edges.push_back(DotEdge{ends[i], ends[i + 1], attrs, first.line});
    }
  }

  // `[k=v, ...]`, possibly several in a row. Default statements need at least one.
  DotAttrs parseAttrLists(bool required) {
    DotAttrs attrs;
    if (required && lex_.peek().type != Tok::kLBracket) {
      throw DotParseError(lex_.peek().line, "expected '[' after a default attribute statement");
    }
    while (lex_.peek().type == Tok::kLBracket) {
      const int open_line = take().line;
      parseAttrList(attrs, open_line);
    }
    return attrs;
  }

  void parseAttrList(DotAttrs& attrs, int open_line) {
    while (true) {
      const Token key = lex_.peek();
      if (key.type == Tok::kRBracket) {
        take();
        return;
      }
      if (!key.isId()) throw missingBracket(open_line);
      take();
      if (lex_.peek().type != Tok::kEquals) {
        if (lex_.peek().line != key.line) throw missingBracket(open_line);
        throw DotParseError(key.line, "expected '=' after attribute " + key.text + ", found " +
                                          describe(lex_.peek()));
      }
      take();
      if (!lex_.peek().isId()) {
        throw DotParseError(key.line, "missing value for attribute " + key.text);
      }
      attrs[key.text] = take().text;
      checkAttributeCount(attrs);
      const Tok sep = lex_.peek().type;
      if (sep == Tok::kComma) {
        take();
      } else if (sep != Tok::kRBracket) {
        throw missingBracket(open_line);
      }
    }
  }

  // Named where the list stopped, which for a one-line statement is the statement's line.
  DotParseError missingBracket(int open_line) const {
    std::string reason = "missing ']'";
    if (open_line != last_line_) {
      reason += " to close the attribute list opened on line " + std::to_string(open_line);
    }
    return DotParseError(last_line_, reason);
  }

  void mergeInto(DotAttrs& to, DotAttrs from) const {
    for (auto& [k, v] : from) to[k] = std::move(v);
    checkAttributeCount(to);
  }

  void checkAttributeCount(const DotAttrs& attrs) const {
    if (attrs.size() > kMaxDotAttributes) {
      throw DotParseError(last_line_, "more than " + std::to_string(kMaxDotAttributes) +
                                          " attributes on one statement, the limit for a DOT file");
    }
  }

  // What the graph holds once `attrs` is stored on one more node or edge. Checked per node
  // and edge, not per statement: one `a -> b -> ...` chain may run over many lines.
  void hold(const DotAttrs& attrs) {
    if (graph_.nodes.size() + graph_.edges.size() >= kMaxDotStatements) {
      throw DotParseError(last_line_, "more than " + std::to_string(kMaxDotStatements) +
                                          " nodes and edges, the limit for a DOT file");
    }
    for (const auto& [k, v] : attrs) held_bytes_ += k.size() + v.size();
    if (held_bytes_ > kMaxDotAttributeBytes) {
      throw DotParseError(last_line_,
                          "attributes over all nodes and edges (defaults counted on "
                          "each) exceed " +
                              std::to_string(kMaxDotAttributeBytes >> 30) +
                              " GiB, the limit for a DOT file");
    }
  }

  Lexer lex_;
  DotGraph graph_;
  int last_line_ = 1;
  std::size_t held_bytes_ = 0;
  std::unordered_map<std::string, int> cluster_index_;
};

}  // namespace

DotGraph readDot(std::istream& in) {
  std::string text;
  char buf[1 << 16];
  while (in && text.size() <= kMaxDotBytes) {  // never more than the cap + 64 KiB in memory
    in.read(buf, sizeof buf);
    text.append(buf, static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw std::runtime_error("cannot read the DOT stream");
  if (text.size() > kMaxDotBytes) {
    throw std::runtime_error("larger than " + std::to_string(kMaxDotBytes >> 20) +
                             " MiB, the limit for a DOT file");
  }
  int line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != '\n') continue;
    if (i - line_start > kMaxDotLineBytes) {
      throw DotParseError(line, "line longer than " + std::to_string(kMaxDotLineBytes >> 20) +
                                    " MiB, the limit for a DOT file");
    }
    ++line;
    line_start = i + 1;
  }
  return Parser(std::move(text)).parse();
}

}  // namespace shardrt::dag
