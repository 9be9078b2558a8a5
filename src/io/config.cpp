// Detectron2 yaml config loading: see config.h for the contract.
//
// The pipeline mirrors what `cfg = get_cfg(); cfg.merge_from_file(path); cfg.merge_from_list(opts)`
// does in Detectron2 (detectron2/config/config.py over fvcore/common/config.py over yacs/config.py):
//   1. read each yaml file as PyYAML's safe_load would (YAML 1.1 scalar resolution), following _BASE_
//      (a string or a list of strings, relative to the including file) and merging the raw mappings
//      base-first (mappings merge recursively, everything else replaces);
//   2. check VERSION (absent -> Detectron2's guess; 2 -> merge; > 2 -> error; < 2 -> unsupported);
//   3. merge the result into the defaults the way yacs does: every string value goes through
//      literal_eval, unknown keys are errors (no Detectron2 default node allows new keys), types must
//      match the default except None <-> anything and list <-> tuple;
//   4. apply opts like merge_from_list; 5. dump canonically, hash, fill and validate ModelSpec.
// Values are kept with their Python types (int/float/bool/str/None/list/tuple) because yacs' type
// checks and the canonical dump depend on them.
#include "io/config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <set>
#include <sstream>
#include <utility>

#include "core/check.h"
#include "io/detectron2_defaults.h"

namespace maskrt {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// A config value with its Python type.
struct Value {
  enum class Kind { kNone, kBool, kInt, kFloat, kStr, kList, kTuple, kDict, kNode, kOther };
  Kind kind = Kind::kNone;
  bool b = false;
  int64_t i = 0;
  double f = 0.0;
  std::string s;                                       // kStr: the string; kOther: a type name
  std::vector<Value> items;                            // kList, kTuple
  std::vector<std::pair<std::string, Value>> fields;   // kDict (a plain dict), kNode (CfgNode)
  std::string where;                                   // "file:line" the value was read from, if any
  std::shared_ptr<const Value> replaced;               // _BASE_ merge: the base file's value this one overrides

  static Value none() { return Value{}; }
  static Value boolean(bool v) { Value x; x.kind = Kind::kBool; x.b = v; return x; }
  static Value integer(int64_t v) { Value x; x.kind = Kind::kInt; x.i = v; return x; }
  static Value real(double v) { Value x; x.kind = Kind::kFloat; x.f = v; return x; }
  static Value str(std::string v) { Value x; x.kind = Kind::kStr; x.s = std::move(v); return x; }
  static Value of(Kind k) { Value x; x.kind = k; return x; }
  static Value other(std::string type) { Value x; x.kind = Kind::kOther; x.s = std::move(type); return x; }

  bool is_map() const { return kind == Kind::kNode || kind == Kind::kDict; }
  bool is_seq() const { return kind == Kind::kList || kind == Kind::kTuple; }
  Value* find(const std::string& key) {
    for (auto& kv : fields) if (kv.first == key) return &kv.second;
    return nullptr;
  }
  const Value* find(const std::string& key) const {
    for (auto& kv : fields) if (kv.first == key) return &kv.second;
    return nullptr;
  }
  void set(const std::string& key, Value v) {
    if (Value* p = find(key)) *p = std::move(v);
    else fields.emplace_back(key, std::move(v));
  }
  void erase(const std::string& key) {
    fields.erase(std::remove_if(fields.begin(), fields.end(), [&](auto& kv) { return kv.first == key; }),
                 fields.end());
  }
};
using Kind = Value::Kind;

// Python's type name, as yacs' messages print it.
std::string type_name(const Value& v) {
  switch (v.kind) {
    case Kind::kNone: return "NoneType";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kStr: return "str";
    case Kind::kList: return "list";
    case Kind::kTuple: return "tuple";
    case Kind::kDict: return "dict";
    case Kind::kNode: return "CfgNode";
    case Kind::kOther: return v.s;
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// Python repr() of values (the canonical dump is made of these).

// repr(float) in CPython: the shortest string that round-trips, fixed notation when the decimal
// exponent is in [-4, 16), scientific ("1e-05", "1.5e+16") otherwise; fixed always shows ".0".
std::string py_float_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // e.g. "-1.2345e+06", "0e+00"
  bool neg = false;
  size_t p = 0;
  if (sci[0] == '-') { neg = true; p = 1; }
  size_t e = sci.find('e');
  std::string digits;
  for (size_t k = p; k < e; ++k) if (sci[k] != '.') digits += sci[k];
  int exp10 = std::atoi(sci.c_str() + e + 1);
  std::string out = neg ? "-" : "";
  if (exp10 < -4 || exp10 >= 16) {
    out += digits[0];
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    return out + eb;
  }
  if (exp10 >= 0) {
    std::string ip = digits.substr(0, std::min<size_t>(digits.size(), size_t(exp10) + 1));
    while (ip.size() < size_t(exp10) + 1) ip += '0';
    std::string fp = digits.size() > size_t(exp10) + 1 ? digits.substr(size_t(exp10) + 1) : "0";
    return out + ip + "." + fp;
  }
  return out + "0." + std::string(size_t(-exp10 - 1), '0') + digits;
}

// repr(str): single quotes unless the text has ' and no ", backslash escapes for the quote, the
// backslash, \t \n \r and other control characters. Non-ASCII code points are written as they are,
// except U+0080..U+00A0 and U+00AD, which CPython also escapes (other non-printable code points
// outside Latin-1 are not special-cased: a documented difference).
std::string py_str_repr(const std::string& s) {
  char q = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, q);
  for (size_t k = 0; k < s.size(); ++k) {
    unsigned char c = static_cast<unsigned char>(s[k]);
    char hex[8];
    if (c == static_cast<unsigned char>(q) || c == '\\') { out += '\\'; out += char(c); }
    else if (c == '\t') out += "\\t";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7f) { std::snprintf(hex, sizeof(hex), "\\x%02x", c); out += hex; }
    else if (c == 0xC2 && k + 1 < s.size()) {
      unsigned char d = static_cast<unsigned char>(s[k + 1]);
      if ((d >= 0x80 && d <= 0xA0) || d == 0xAD) { std::snprintf(hex, sizeof(hex), "\\x%02x", d); out += hex; ++k; }
      else out += char(c);
    } else out += char(c);
  }
  return out + q;
}

std::string py_repr(const Value& v) {
  switch (v.kind) {
    case Kind::kNone: return "None";
    case Kind::kBool: return v.b ? "True" : "False";
    case Kind::kInt: return std::to_string(v.i);
    case Kind::kFloat: return py_float_repr(v.f);
    case Kind::kStr: return py_str_repr(v.s);
    case Kind::kList:
    case Kind::kTuple: {
      std::string out = v.kind == Kind::kList ? "[" : "(";
      for (size_t k = 0; k < v.items.size(); ++k) out += (k ? ", " : "") + py_repr(v.items[k]);
      if (v.kind == Kind::kTuple && v.items.size() == 1) out += ",";
      return out + (v.kind == Kind::kList ? "]" : ")");
    }
    case Kind::kDict:
    case Kind::kNode: {
      std::string out = "{";
      for (size_t k = 0; k < v.fields.size(); ++k)
        out += (k ? ", " : "") + py_str_repr(v.fields[k].first) + ": " + py_repr(v.fields[k].second);
      return out + "}";
    }
    case Kind::kOther: return "<" + v.s + ">";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// ast.literal_eval, for the strings yacs decodes (_decode_cfg_value). `parse_literal` returns false
// when Python would raise ValueError or SyntaxError (yacs then keeps the string as it is).
// Supported: int (decimal, 0x/0o/0b, '_'), float, imaginary (-> complex, an invalid config type),
// str/bytes literals with prefixes and escapes (\N{...} is not supported: treated as not a literal),
// adjacent string concatenation, True/False/None, '...', a single unary +/-, num +/- imaginary,
// lists, tuples (parenthesised or bare), dicts and sets, '#' comments.
class LiteralParser {
 public:
  explicit LiteralParser(const std::string& text) : t_(text) {}

  bool parse(Value* out) {
    size_t start = 0;
    while (start < t_.size() && (t_[start] == ' ' || t_[start] == '\t')) ++start;  // literal_eval lstrips
    p_ = start;
    try {
      Value v;
      if (!testlist(&v, /*top=*/true)) return false;
      skip_ws(/*in_brackets=*/false);
      if (p_ != t_.size()) return false;
      *out = std::move(v);
      return true;
    } catch (const Fail&) {
      return false;
    }
  }

 private:
  struct Fail {};
  const std::string& t_;
  size_t p_ = 0;
  int depth_ = 0;

  [[noreturn]] static void fail() { throw Fail{}; }
  int ch(size_t off = 0) const { return p_ + off < t_.size() ? static_cast<unsigned char>(t_[p_ + off]) : -1; }

  void skip_ws(bool in_brackets) {
    for (;;) {
      int c = ch();
      if (c == ' ' || c == '\t' || c == '\f') { ++p_; continue; }
      if (c == '#') { while (ch() != -1 && ch() != '\n') ++p_; continue; }
      if (c == '\\' && ch(1) == '\n') { p_ += 2; continue; }
      if ((c == '\n' || c == '\r') && in_brackets) { ++p_; continue; }
      if ((c == '\n' || c == '\r') && !in_brackets) {
        // only trailing blank lines / comments may follow at the top level
        size_t q = p_;
        while (q < t_.size() && (t_[q] == '\n' || t_[q] == '\r' || t_[q] == ' ' || t_[q] == '\t')) ++q;
        if (q == t_.size()) { p_ = q; return; }
        if (t_[q] == '#') { p_ = q; continue; }
        return;  // a second logical line: syntax error, caught by the caller's end check
      }
      return;
    }
  }

  // testlist: expr (',' expr)* [','] — a tuple when a comma is present.
  bool testlist(Value* out, bool top) {
    skip_ws(!top);
    Value first;
    if (!expr(&first, !top)) return false;
    skip_ws(!top);
    if (ch() != ',') { *out = std::move(first); return true; }
    Value tup = Value::of(Kind::kTuple);
    tup.items.push_back(std::move(first));
    while (ch() == ',') {
      ++p_;
      skip_ws(!top);
      if (ch() == -1 || ch() == ')' || ch() == '\n') break;
      Value v;
      if (!expr(&v, !top)) fail();
      tup.items.push_back(std::move(v));
      skip_ws(!top);
    }
    *out = std::move(tup);
    return true;
  }

  static bool is_number(const Value& v) {
    return v.kind == Kind::kInt || v.kind == Kind::kFloat || v.kind == Kind::kBool ||
           (v.kind == Kind::kOther && v.s == "complex");
  }

  bool expr(Value* out, bool in_brackets) {
    skip_ws(in_brackets);
    int sign = 0;
    if (ch() == '+' || ch() == '-') { sign = ch() == '-' ? -1 : 1; ++p_; skip_ws(in_brackets); }
    Value v;
    if (!atom(&v)) fail();
    if (sign != 0) {
      // _convert_signed_num: one sign on an int/float/complex constant (bool counts as int)
      // (CPython 3.11 checks the constant's exact type: -True is not a literal)
      if (!is_number(v) || v.kind == Kind::kBool) fail();
      if (sign < 0) {
        if (v.kind == Kind::kInt) {
          if (v.i == std::numeric_limits<int64_t>::min()) v = Value::other("int (beyond 64 bits)");
          else v.i = -v.i;
        } else if (v.kind == Kind::kFloat) v.f = -v.f;
      }
    }
    skip_ws(in_brackets);
    if (ch() == '+' || ch() == '-') {
      // BinOp: a real number plus/minus an imaginary one -> complex
      size_t save = p_;
      ++p_;
      skip_ws(in_brackets);
      Value rhs;
      if (!(v.kind == Kind::kInt || v.kind == Kind::kFloat) || !atom(&rhs) ||
          !(rhs.kind == Kind::kOther && rhs.s == "complex")) {
        p_ = save;
        fail();
      }
      v = Value::other("complex");
    }
    *out = std::move(v);
    return true;
  }

  bool atom(Value* out) {
    int c = ch();
    if (c == -1) return false;
    if (c == '[' || c == '(' || c == '{') {
      if (++depth_ > 200) fail();  // CPython's tokenizer limit ("too many nested parentheses")
      ++p_;
      bool ok = c == '[' ? list(out) : c == '(' ? paren(out) : brace(out);
      --depth_;
      return ok;
    }
    if (std::isdigit(c) || (c == '.' && ch(1) != -1 && std::isdigit(ch(1)))) return number(out);
    if (c == '.' && ch(1) == '.' && ch(2) == '.') { p_ += 3; *out = Value::other("ellipsis"); return true; }
    if (c == '\'' || c == '"') return strings(out);
    if (std::isalpha(c) || c == '_' || c >= 0x80) {
      size_t s = p_;
      while (ch() != -1 && (std::isalnum(ch()) || ch() == '_' || ch() >= 0x80)) ++p_;
      std::string name = t_.substr(s, p_ - s);
      if (ch() == '\'' || ch() == '"') {  // string prefix
        std::string lower;
        for (char k : name) lower += char(std::tolower(static_cast<unsigned char>(k)));
        static const std::set<std::string> kPrefixes = {"r", "u", "b", "br", "rb", "f", "fr", "rf"};
        if (!kPrefixes.count(lower)) fail();
        p_ = s;
        return strings(out);
      }
      if (name == "True") { *out = Value::boolean(true); return true; }
      if (name == "False") { *out = Value::boolean(false); return true; }
      if (name == "None") { *out = Value::none(); return true; }
      fail();  // any other name: ValueError (malformed node)
    }
    return false;
  }

  bool list(Value* out) {
    Value l = Value::of(Kind::kList);
    skip_ws(true);
    while (ch() != ']') {
      Value v;
      if (!expr(&v, true)) fail();
      l.items.push_back(std::move(v));
      skip_ws(true);
      if (ch() == ',') { ++p_; skip_ws(true); continue; }
      if (ch() != ']') fail();
    }
    ++p_;
    *out = std::move(l);
    return true;
  }

  bool paren(Value* out) {
    skip_ws(true);
    if (ch() == ')') { ++p_; *out = Value::of(Kind::kTuple); return true; }
    Value v;
    if (!testlist(&v, false)) fail();
    skip_ws(true);
    if (ch() != ')') fail();
    ++p_;
    *out = std::move(v);
    return true;
  }

  bool brace(Value* out) {
    skip_ws(true);
    Value d = Value::of(Kind::kDict);
    bool is_set = false, hashable = true;
    bool first = true;
    while (ch() != '}') {
      Value k;
      if (!expr(&k, true)) fail();
      skip_ws(true);
      if (first) is_set = ch() != ':';
      first = false;
      if (k.is_seq() || k.is_map()) hashable = hashable && k.kind == Kind::kTuple;
      if (!is_set) {
        if (ch() != ':') fail();
        ++p_;
        Value v;
        if (!expr(&v, true)) fail();
        if (k.kind == Kind::kStr) d.set(k.s, std::move(v));
        else d.s = "non-str key";
        skip_ws(true);
      }
      if (ch() == ',') { ++p_; skip_ws(true); continue; }
      if (ch() != '}') fail();
    }
    ++p_;
    if (is_set) { *out = Value::other("set"); return true; }
    if (!d.s.empty() || !hashable) { *out = Value::other("dict"); return true; }  // maskrt cannot hold it
    *out = std::move(d);
    return true;
  }

  bool number(Value* out) {
    size_t s = p_;
    auto digits = [&](auto pred) {  // digit (['_'] digit)*; returns false on a bad underscore
      if (!pred(ch())) return false;
      while (pred(ch()) || (ch() == '_' && pred(ch(1)))) { if (ch() == '_') ++p_; ++p_; }
      return true;
    };
    auto dec = [](int c) { return c != -1 && std::isdigit(c); };
    std::string clean;
    if (ch() == '0' && (ch(1) == 'x' || ch(1) == 'X' || ch(1) == 'o' || ch(1) == 'O' || ch(1) == 'b' || ch(1) == 'B')) {
      int base = (ch(1) == 'x' || ch(1) == 'X') ? 16 : (ch(1) == 'o' || ch(1) == 'O') ? 8 : 2;
      p_ += 2;
      if (ch() == '_') ++p_;
      size_t ds = p_;
      auto pred = [base](int c) {
        if (c == -1) return false;
        if (base == 16) return bool(std::isxdigit(c));
        if (base == 8) return c >= '0' && c <= '7';
        return c == '0' || c == '1';
      };
      if (!digits(pred)) fail();
      if (ch() != -1 && (std::isalnum(ch()) || ch() == '_')) fail();
      for (size_t k = ds; k < p_; ++k) if (t_[k] != '_') clean += t_[k];
      errno = 0;
      unsigned long long u = std::strtoull(clean.c_str(), nullptr, base);
      if (errno == ERANGE || u > uint64_t(std::numeric_limits<int64_t>::max())) *out = Value::other("int (beyond 64 bits)");
      else *out = Value::integer(int64_t(u));
      return true;
    }
    bool is_float = false;
    if (ch() != '.') digits(dec);
    if (ch() == '.') {
      is_float = true;
      ++p_;
      if (dec(ch())) digits(dec);
    }
    if (ch() == 'e' || ch() == 'E') {
      size_t save = p_;
      ++p_;
      if (ch() == '+' || ch() == '-') ++p_;
      if (!digits(dec)) { p_ = save; fail(); }
      is_float = true;
    }
    bool imag = false;
    if (ch() == 'j' || ch() == 'J') { imag = true; ++p_; }
    if (ch() != -1 && (std::isalnum(ch()) || ch() == '_' || ch() == '.')) fail();
    for (size_t k = s; k < p_; ++k) if (t_[k] != '_') clean += t_[k];
    if (imag) { *out = Value::other("complex"); return true; }
    if (is_float) { *out = Value::real(std::strtod(clean.c_str(), nullptr)); return true; }
    // decimal integer: no leading zeros except for zero itself ("00" is fine, "01" is not)
    if (clean.size() > 1 && clean[0] == '0' && clean.find_first_not_of('0') != std::string::npos) fail();
    errno = 0;
    long long v = std::strtoll(clean.c_str(), nullptr, 10);
    if (errno == ERANGE) *out = Value::other("int (beyond 64 bits)");
    else *out = Value::integer(v);
    return true;
  }

  static void put_utf8(std::string* o, uint32_t cp) {
    if (cp < 0x80) *o += char(cp);
    else if (cp < 0x800) { *o += char(0xC0 | (cp >> 6)); *o += char(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) { *o += char(0xE0 | (cp >> 12)); *o += char(0x80 | ((cp >> 6) & 0x3F)); *o += char(0x80 | (cp & 0x3F)); }
    else { *o += char(0xF0 | (cp >> 18)); *o += char(0x80 | ((cp >> 12) & 0x3F)); *o += char(0x80 | ((cp >> 6) & 0x3F)); *o += char(0x80 | (cp & 0x3F)); }
  }

  // One or more adjacent string literals.
  bool strings(Value* out) {
    std::string acc;
    int kind = 0;  // 1 str, 2 bytes, 3 f-string
    bool any_f = false;
    for (;;) {
      size_t s = p_;
      bool raw = false, bytes = false, fstr = false;
      while (ch() != -1 && std::isalpha(ch())) {
        int c = std::tolower(ch());
        if (c == 'r') raw = true; else if (c == 'b') bytes = true; else if (c == 'f') fstr = true;
        ++p_;
      }
      if (ch() != '\'' && ch() != '"') { p_ = s; break; }
      int this_kind = bytes ? 2 : 1;
      if (kind != 0 && this_kind != kind) fail();  // cannot mix bytes and non-bytes literals
      kind = this_kind;
      any_f = any_f || fstr;
      char q = char(ch());
      bool triple = ch(1) == q && ch(2) == q;
      p_ += triple ? 3 : 1;
      for (;;) {
        int c = ch();
        if (c == -1) fail();
        if (c == q && (!triple || (ch(1) == q && ch(2) == q))) { p_ += triple ? 3 : 1; break; }
        if (c == '\n' && !triple) fail();
        if (c == '\\') {
          int n = ch(1);
          if (n == -1) fail();
          if (raw) { acc += '\\'; acc += char(n); p_ += 2; continue; }
          p_ += 2;
          switch (n) {
            case '\n': break;
            case '\\': acc += '\\'; break;
            case '\'': acc += '\''; break;
            case '"': acc += '"'; break;
            case 'a': acc += '\a'; break;
            case 'b': acc += '\b'; break;
            case 'f': acc += '\f'; break;
            case 'n': acc += '\n'; break;
            case 'r': acc += '\r'; break;
            case 't': acc += '\t'; break;
            case 'v': acc += '\v'; break;
            case 'x': {
              if (!(ch() != -1 && std::isxdigit(ch()) && ch(1) != -1 && std::isxdigit(ch(1)))) fail();
              uint32_t v = uint32_t(std::strtoul(t_.substr(p_, 2).c_str(), nullptr, 16));
              p_ += 2;
              if (bytes) acc += char(v); else put_utf8(&acc, v);
              break;
            }
            case 'u': case 'U': {
              if (bytes) { acc += '\\'; acc += char(n); break; }
              size_t len = n == 'u' ? 4 : 8;
              for (size_t k = 0; k < len; ++k) if (!(ch(k) != -1 && std::isxdigit(ch(k)))) fail();
              uint32_t v = uint32_t(std::strtoul(t_.substr(p_, len).c_str(), nullptr, 16));
              if (v > 0x10FFFF) fail();
              p_ += len;
              put_utf8(&acc, v);
              break;
            }
            case 'N': fail();  // \N{name}: not supported (see above)
            default:
              if (n >= '0' && n <= '7') {
                uint32_t v = uint32_t(n - '0');
                for (int k = 0; k < 2 && ch() >= '0' && ch() <= '7'; ++k) { v = v * 8 + uint32_t(ch() - '0'); ++p_; }
                if (bytes) acc += char(v & 0xFF); else put_utf8(&acc, v);
              } else {
                acc += '\\';  // unknown escape: kept as written
                acc += char(n);
              }
          }
          continue;
        }
        acc += char(c);
        ++p_;
      }
      skip_ws(depth_ > 0);
    }
    if (kind == 0) return false;
    if (any_f) fail();  // JoinedStr: not a literal
    *out = kind == 2 ? Value::other("bytes") : Value::str(acc);
    return true;
  }
};

// yacs _decode_cfg_value for a str: literal_eval, keeping the string when it is not a literal.
Value decode_str(const Value& v) {
  if (v.kind != Kind::kStr) return v;
  Value out;
  LiteralParser parser(v.s);
  if (!parser.parse(&out)) return v;
  out.where = v.where;
  out.replaced = v.replaced;
  return out;
}

// ---------------------------------------------------------------------------------------------
// YAML (PyYAML safe_load semantics) -> Value.

bool all_of_set(const std::string& s, size_t from, size_t to, const char* set) {
  for (size_t k = from; k < to; ++k) if (s[k] == 0 || !std::strchr(set, s[k])) return false;
  return true;
}

// YAML 1.1 int, as PyYAML's resolver regex + construct_yaml_int.
bool yaml11_int(const std::string& s, Value* out) {
  size_t p = 0;
  int sign = 1;
  if (p < s.size() && (s[p] == '+' || s[p] == '-')) { sign = s[p] == '-' ? -1 : 1; ++p; }
  std::string b = s.substr(p);
  if (b.empty()) return false;
  std::string clean;
  for (char c : b) if (c != '_') clean += c;
  int base = 10;
  std::string body;
  if (b.size() > 2 && b[0] == '0' && b[1] == 'b') {
    if (!all_of_set(b, 2, b.size(), "01_")) return false;
    base = 2; body = clean.substr(2);
  } else if (b.size() > 2 && b[0] == '0' && b[1] == 'x') {
    if (!all_of_set(b, 2, b.size(), "0123456789abcdefABCDEF_")) return false;
    base = 16; body = clean.substr(2);
  } else if (b.size() > 1 && b[0] == '0') {
    if (!all_of_set(b, 1, b.size(), "01234567_")) return false;
    base = 8; body = clean.size() > 1 ? clean.substr(1) : "0";
  } else if (b == "0") {
    body = "0";
  } else if (b[0] >= '1' && b[0] <= '9') {
    size_t colon = b.find(':');
    if (colon == std::string::npos) {
      if (!all_of_set(b, 0, b.size(), "0123456789_")) return false;
      body = clean;
    } else {
      // sexagesimal: [1-9][0-9_]*(:[0-5]?[0-9])+
      if (!all_of_set(b, 0, colon, "0123456789_")) return false;
      std::vector<std::string> parts;
      std::stringstream ss(b);
      std::string part;
      while (std::getline(ss, part, ':')) parts.push_back(part);
      for (size_t k = 1; k < parts.size(); ++k) {
        const std::string& q = parts[k];
        if (q.empty() || q.size() > 2 || !all_of_set(q, 0, q.size(), "0123456789")) return false;
        if (q.size() == 2 && q[0] > '5') return false;
      }
      if (b.back() == ':') return false;
      int64_t v = 0;
      for (auto& q : parts) {
        std::string qc;
        for (char c : q) if (c != '_') qc += c;
        v = v * 60 + std::strtoll(qc.c_str(), nullptr, 10);
      }
      *out = Value::integer(sign * v);
      return true;
    }
  } else {
    return false;
  }
  if (body.empty()) { *out = Value::integer(0); return true; }
  errno = 0;
  unsigned long long u = std::strtoull(body.c_str(), nullptr, base);
  if (errno == ERANGE || u > uint64_t(std::numeric_limits<int64_t>::max())) { *out = Value::other("int (beyond 64 bits)"); return true; }
  *out = Value::integer(sign * int64_t(u));
  return true;
}

// YAML 1.1 float, as PyYAML's resolver regex + construct_yaml_float.
bool yaml11_float(const std::string& s, Value* out) {
  size_t p = 0;
  double sign = 1;
  bool has_sign = false;
  if (p < s.size() && (s[p] == '+' || s[p] == '-')) { sign = s[p] == '-' ? -1 : 1; ++p; has_sign = true; }
  std::string b = s.substr(p);
  if (b == ".inf" || b == ".Inf" || b == ".INF") { *out = Value::real(sign * HUGE_VAL); return true; }
  if (!has_sign && (b == ".nan" || b == ".NaN" || b == ".NAN")) { *out = Value::real(std::nan("")); return true; }
  if (b.empty()) return false;
  size_t colon = b.find(':');
  if (colon != std::string::npos) {
    // [0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*
    if (!std::isdigit(static_cast<unsigned char>(b[0])) || !all_of_set(b, 0, colon, "0123456789_")) return false;
    size_t dot = b.find('.');
    if (dot == std::string::npos || !all_of_set(b, dot + 1, b.size(), "0123456789_")) return false;
    std::vector<std::string> parts;
    std::stringstream ss(b.substr(0, dot));
    std::string part;
    while (std::getline(ss, part, ':')) parts.push_back(part);
    if (parts.size() < 2) return false;
    for (size_t k = 1; k < parts.size(); ++k) {
      const std::string& q = parts[k];
      if (q.empty() || q.size() > 2 || !all_of_set(q, 0, q.size(), "0123456789")) return false;
      if (q.size() == 2 && q[0] > '5') return false;
    }
    double v = 0;
    for (size_t k = 0; k < parts.size(); ++k) {
      std::string qc;
      for (char c : parts[k]) if (c != '_') qc += c;
      if (k + 1 == parts.size()) {
        std::string frac;
        for (char c : b.substr(dot)) if (c != '_') frac += c;
        qc += frac;
      }
      v = v * 60 + std::strtod(qc.c_str(), nullptr);
    }
    *out = Value::real(sign * v);
    return true;
  }
  // [0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?  |  \.[0-9_]+([eE][-+][0-9]+)?  (the latter without sign)
  size_t dot = b.find('.');
  if (dot == std::string::npos) return false;
  size_t e = b.find_first_of("eE");
  size_t mant_end = e == std::string::npos ? b.size() : e;
  if (dot == 0) {
    if (has_sign || mant_end < 2 || !all_of_set(b, 1, mant_end, "0123456789_")) return false;
  } else {
    if (!std::isdigit(static_cast<unsigned char>(b[0])) || !all_of_set(b, 0, dot, "0123456789_") ||
        !all_of_set(b, dot + 1, mant_end, "0123456789_"))
      return false;
  }
  if (e != std::string::npos) {
    if (e + 2 >= b.size() + 0 || (b[e + 1] != '+' && b[e + 1] != '-') || e + 2 == b.size() ||
        !all_of_set(b, e + 2, b.size(), "0123456789"))
      return false;
  }
  std::string clean;
  for (char c : b) if (c != '_') clean += c;
  *out = Value::real(sign * std::strtod(clean.c_str(), nullptr));
  return true;
}

bool looks_like_timestamp(const std::string& s) {
  // PyYAML: [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(...time...)?
  if (s.size() < 8 || !all_of_set(s, 0, 4, "0123456789") || s[4] != '-') return false;
  size_t p = 5, n = 0;
  while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p])) && n < 2) { ++p; ++n; }
  if (n == 0 || p >= s.size() || s[p] != '-') return false;
  ++p;
  n = 0;
  while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p])) && n < 2) { ++p; ++n; }
  return n > 0 && (p == s.size() || s[p] == 'T' || s[p] == 't' || s[p] == ' ' || s[p] == '\t');
}

// Plain (unquoted, untagged) scalar -> YAML 1.1 implicit type (bool, int, float, null, str).
Value resolve_plain(const std::string& s) {
  static const std::set<std::string> kTrue = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static const std::set<std::string> kFalse = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
  static const std::set<std::string> kNull = {"", "~", "null", "Null", "NULL"};
  if (kTrue.count(s)) return Value::boolean(true);
  if (kFalse.count(s)) return Value::boolean(false);
  if (kNull.count(s)) return Value::none();
  Value v;
  if (yaml11_float(s, &v)) return v;
  if (yaml11_int(s, &v)) return v;
  if (looks_like_timestamp(s)) return Value::other("datetime");
  return Value::str(s);
}

struct YamlSource {
  std::string file;  // shown in messages
};

std::string where_of(const YamlSource& src, const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.line < 0) return src.file;
  return src.file + ":" + std::to_string(m.line + 1);
}

const std::string kTagPrefix = "tag:yaml.org,2002:";

Value yaml_to_value(const YAML::Node& n, const YamlSource& src, bool in_sequence, int depth) {
  MASKRT_CHECK(depth < 500, ErrorCode::kBadConfig, where_of(src, n), ": yaml nesting too deep");
  std::string tag = n.Tag();
  const bool explicit_tag = !(tag.empty() || tag == "?" || tag == "!");
  std::string tname = tag.rfind(kTagPrefix, 0) == 0 ? tag.substr(kTagPrefix.size()) : tag;
  Value out;
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out = Value::none();
      if (explicit_tag && tname == "str") out = Value::str("");
      break;
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (!explicit_tag) {
        out = tag == "!" ? Value::str(s) : resolve_plain(s);
      } else if (tname == "str") {
        out = Value::str(s);
      } else if (tname == "int") {
        MASKRT_CHECK(yaml11_int(s, &out), ErrorCode::kBadConfig, where_of(src, n), ": '", s, "' is not a YAML int");
      } else if (tname == "float") {
        if (!yaml11_float(s, &out)) {
          Value iv;
          MASKRT_CHECK(yaml11_int(s, &iv) && iv.kind == Kind::kInt, ErrorCode::kBadConfig, where_of(src, n), ": '", s,
                       "' is not a YAML float");
          out = Value::real(double(iv.i));
        }
      } else if (tname == "bool") {
        out = resolve_plain(s);
        MASKRT_CHECK(out.kind == Kind::kBool, ErrorCode::kBadConfig, where_of(src, n), ": '", s, "' is not a YAML bool");
      } else if (tname == "null") {
        out = Value::none();
      } else {
        MASKRT_FAIL(ErrorCode::kBadConfig, where_of(src, n), ": unsupported yaml tag '", tag, "'");
      }
      break;
    }
    case YAML::NodeType::Sequence: {
      if (explicit_tag && tname != "seq" && tname != "python/tuple" && tname != "python/list")
        MASKRT_FAIL(ErrorCode::kBadConfig, where_of(src, n), ": unsupported yaml tag '", tag, "'");
      out = Value::of(tname == "python/tuple" ? Kind::kTuple : Kind::kList);
      for (const auto& item : n) out.items.push_back(yaml_to_value(item, src, true, depth + 1));
      break;
    }
    case YAML::NodeType::Map: {
      if (explicit_tag && tname != "map")
        MASKRT_FAIL(ErrorCode::kBadConfig, where_of(src, n), ": unsupported yaml tag '", tag, "'");
      // PyYAML gives a dict; yacs turns dicts that are config values (not list items) into CfgNodes.
      out = Value::of(in_sequence ? Kind::kDict : Kind::kNode);
      for (const auto& kv : n) {
        Value key = yaml_to_value(kv.first, src, false, depth + 1);
        MASKRT_CHECK(key.kind == Kind::kStr, ErrorCode::kBadConfig, where_of(src, kv.first), ": config key ",
                     py_repr(key), " is a ", type_name(key), ", not a string");
        Value child = yaml_to_value(kv.second, src, in_sequence, depth + 1);
        child.where = where_of(src, kv.first);  // errors about a key name its line (a nested mapping starts below it)
        out.set(key.s, std::move(child));  // duplicate keys: last wins
      }
      break;
    }
  }
  out.where = where_of(src, n);
  return out;
}

// Parses one yaml document (PyYAML safe_load: exactly one document; the top level of a config must
// be a mapping).
Value parse_yaml_text(const std::string& text, const std::string& file) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::ParserException& e) {
    MASKRT_FAIL(ErrorCode::kBadConfig, file, ":", e.mark.line + 1, ":", e.mark.column + 1, ": yaml syntax error: ", e.msg);
  } catch (const YAML::Exception& e) {
    MASKRT_FAIL(ErrorCode::kBadConfig, file, ": cannot parse yaml: ", e.what());
  }
  MASKRT_CHECK(docs.size() <= 1, ErrorCode::kBadConfig, file, ": expected a single yaml document, found ", docs.size());
  MASKRT_CHECK(!docs.empty() && !docs[0].IsNull(), ErrorCode::kBadConfig, file, ": config is empty");
  MASKRT_CHECK(docs[0].IsMap(), ErrorCode::kBadConfig, file, ": the top level of a config must be a mapping of keys");
  return yaml_to_value(docs[0], YamlSource{file}, false, 0);
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  MASKRT_CHECK(fs::exists(path, ec), ErrorCode::kIo, "config file '", path, "' does not exist");
  MASKRT_CHECK(!fs::is_directory(path, ec), ErrorCode::kIo, "config file '", path, "' is a directory");
  std::ifstream in(path, std::ios::binary);
  MASKRT_CHECK(in.good(), ErrorCode::kIo, "cannot open config file '", path, "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  MASKRT_CHECK(!in.bad(), ErrorCode::kIo, "cannot read config file '", path, "'");
  return ss.str();
}

// fvcore's merge_a_into_b for raw yaml dicts (the _BASE_ step): mappings merge recursively, anything
// else replaces; a mapping over a non-mapping is an error.
void merge_raw(const Value& a, Value* b) {
  for (const auto& kv : a.fields) {
    Value* dst = b->find(kv.first);
    if (kv.second.is_map() && dst) {
      MASKRT_CHECK(dst->is_map(), ErrorCode::kBadConfig, kv.second.where, ": cannot inherit key '", kv.first,
                   "' from base: the base value is not a mapping");
      merge_raw(kv.second, dst);
    } else {
      Value v = kv.second;
      if (dst && !dst->is_map()) {  // kept for messages: the value in effect before this file
        Value before = *dst;
        before.replaced.reset();
        v.replaced = std::make_shared<const Value>(std::move(before));
      }
      b->set(kv.first, std::move(v));
    }
  }
}

constexpr int kMaxBaseDepth = 64;

Value load_with_base(const std::string& text, const std::string& file, std::vector<std::string>* stack);

Value load_base_file(const std::string& base, const Value& base_value, const std::string& including_file,
                     std::vector<std::string>* stack) {
  MASKRT_CHECK(base_value.kind == Kind::kStr, ErrorCode::kBadConfig, base_value.where,
               ": _BASE_ must be a path or a list of paths, found ", type_name(base_value));
  std::string path = base;
  if (!path.empty() && path[0] == '~') {
    const char* home = std::getenv("HOME");
    if (home && (path.size() == 1 || path[1] == '/')) path = std::string(home) + path.substr(1);
  }
  if (path.rfind("http://", 0) == 0 || path.rfind("https://", 0) == 0)
    MASKRT_FAIL(ErrorCode::kUnsupported, base_value.where, ": _BASE_ '", base, "' is a URL; maskrt reads local files only");
  if (path.empty() || path[0] != '/') {
    std::string dir = fs::path(including_file).parent_path().string();
    path = dir.empty() ? path : (fs::path(dir) / path).string();
  }
  std::error_code ec;
  MASKRT_CHECK(fs::exists(path, ec) && !fs::is_directory(path, ec), ErrorCode::kBadConfig, base_value.where,
               ": _BASE_ file '", path, "' does not exist");
  return load_with_base(read_file(path), path, stack);
}

// fvcore CfgNode.load_yaml_with_base.
Value load_with_base(const std::string& text, const std::string& file, std::vector<std::string>* stack) {
  std::error_code ec;
  std::string id = file.empty() ? std::string("<string>") : fs::weakly_canonical(fs::path(file), ec).string();
  if (ec) id = file;
  for (const auto& s : *stack) {
    if (s == id) {
      std::string chain;
      for (const auto& t : *stack) chain += t + " -> ";
      MASKRT_FAIL(ErrorCode::kBadConfig, file, ": _BASE_ cycle: ", chain, id);
    }
  }
  MASKRT_CHECK(int(stack->size()) < kMaxBaseDepth, ErrorCode::kBadConfig, file, ": _BASE_ chain deeper than ", kMaxBaseDepth);
  stack->push_back(id);
  Value cfg = parse_yaml_text(text, file);
  const Value* base = cfg.find("_BASE_");
  if (base) {
    Value base_cfg = Value::of(Kind::kNode);
    if (base->is_seq()) {
      for (const auto& item : base->items) {
        MASKRT_CHECK(item.kind == Kind::kStr, ErrorCode::kBadConfig, item.where, ": _BASE_ entries must be paths");
        merge_raw(load_base_file(item.s, item, file, stack), &base_cfg);
      }
    } else {
      base_cfg = load_base_file(base->s, *base, file, stack);
    }
    cfg.erase("_BASE_");
    merge_raw(cfg, &base_cfg);
    cfg = std::move(base_cfg);
  }
  stack->pop_back();
  return cfg;
}

// ---------------------------------------------------------------------------------------------
// yacs merge.

bool valid_leaf(Kind k) {
  return k == Kind::kNone || k == Kind::kBool || k == Kind::kInt || k == Kind::kFloat || k == Kind::kStr ||
         k == Kind::kList || k == Kind::kTuple;
}

std::string short_repr(const Value& v) {
  if (v.kind == Kind::kNode) return "<config node>";
  std::string r = py_repr(v);
  return r.size() > 80 ? r.substr(0, 77) + "..." : r;
}

// yacs _check_and_coerce_cfg_value_type. The expected type is the default's (as in yacs); the message
// quotes the value in effect where the bad one was written: the _BASE_ file's value it overrides, the
// config file's value an --opts value overrides, or else Detectron2's default.
Value check_and_coerce(Value repl, const Value& orig, const std::string& full_key, const std::string& where) {
  if (repl.kind == orig.kind && repl.kind != Kind::kOther) return repl;
  if ((repl.kind == Kind::kNone && valid_leaf(orig.kind)) || (orig.kind == Kind::kNone && valid_leaf(repl.kind)))
    return repl;
  if (repl.kind == Kind::kList && orig.kind == Kind::kTuple) { repl.kind = Kind::kTuple; return repl; }
  if (repl.kind == Kind::kTuple && orig.kind == Kind::kList) { repl.kind = Kind::kList; return repl; }
  const Value& before = repl.replaced ? *repl.replaced : orig;
  const std::string in_effect = before.kind == Kind::kNode ? std::string()
                               : before.where.empty()      ? " (it replaces Detectron2's default " + short_repr(before) + ")"
                                                           : " (it replaces " + short_repr(before) + " from " + before.where + ")";
  MASKRT_FAIL(ErrorCode::kBadConfig, where, ": type mismatch for config key ", full_key, ": expected ",
              type_name(orig), ", found ", type_name(repl), " ", short_repr(repl), in_effect,
              repl.kind == Kind::kInt && orig.kind == Kind::kFloat ? " (yacs does not convert int to float: write "
                  + std::to_string(repl.i) + ".0)" : "");
}

// Values yacs accepts inside lists (dates, complex, bytes, sets, Ellipsis, ints beyond 64 bits) that
// maskrt cannot hold: rejected by name rather than stored approximately.
void check_representable(const Value& v, const std::string& full_key, const std::string& where) {
  if (v.kind == Kind::kOther)
    MASKRT_FAIL(ErrorCode::kUnsupported, where, ": config key ", full_key, " holds a ", v.s,
                " value, which maskrt cannot represent");
  for (const auto& item : v.items) check_representable(item, full_key, where);
  for (const auto& kv : v.fields) check_representable(kv.second, full_key, where);
}

// yacs _merge_a_into_b (no node of Detectron2's get_cfg() allows new keys).
void merge_into(const Value& a, Value* b, const std::string& prefix) {
  for (const auto& kv : a.fields) {
    const std::string full_key = prefix + kv.first;
    const std::string& where = kv.second.where;
    Value v = decode_str(kv.second);
    Value* dst = b->find(kv.first);
    MASKRT_CHECK(dst != nullptr, ErrorCode::kBadConfig, where, ": Non-existent config key: ", full_key);
    v = check_and_coerce(std::move(v), *dst, full_key, where);
    if (v.kind == Kind::kNode) {
      merge_into(v, dst, full_key + ".");
    } else {
      check_representable(v, full_key, where);
      *dst = std::move(v);
    }
  }
}

// Detectron2 CfgNode.merge_from_file's VERSION step.
void check_version(const Value& loaded, const std::string& file) {
  constexpr int64_t kLatest = 2;  // detectron2/config/defaults.py _C.VERSION
  const Value* ver = loaded.find("VERSION");
  if (!ver || ver->kind == Kind::kNone) {
    // compat.guess_version: files with MODEL.WEIGHT or TEST.AUG_ON are v1, others the latest
    const Value* model = loaded.find("MODEL");
    const Value* test = loaded.find("TEST");
    bool v1 = (model && model->is_map() && model->find("WEIGHT")) || (test && test->is_map() && test->find("AUG_ON"));
    MASKRT_CHECK(!v1, ErrorCode::kUnsupported, file,
                 ": config has no VERSION and uses v1 keys (MODEL.WEIGHT or TEST.AUG_ON); maskrt reads VERSION 2 "
                 "configs only: rename the keys (detectron2/config/compat.py) and add VERSION: 2");
    return;
  }
  double v = 0;
  if (ver->kind == Kind::kInt) v = double(ver->i);
  else if (ver->kind == Kind::kFloat) v = ver->f;
  else if (ver->kind == Kind::kBool) v = ver->b ? 1 : 0;
  else MASKRT_FAIL(ErrorCode::kBadConfig, ver->where, ": VERSION must be a number, found ", type_name(*ver), " ", short_repr(*ver));
  MASKRT_CHECK(v <= double(kLatest), ErrorCode::kBadConfig, ver->where, ": cannot merge a v", short_repr(*ver),
               " config into a v", kLatest, " config (VERSION)");
  MASKRT_CHECK(v >= double(kLatest), ErrorCode::kUnsupported, ver->where, ": VERSION ", short_repr(*ver),
               " configs (Detectron2's pre-release format) are not supported; upgrade the file to VERSION: 2");
}

// The embedded get_cfg() defaults.
const Value& defaults() {
  static const Value kDefaults = [] {
    Value root = Value::of(Kind::kNode);
    std::istringstream in(detectron2_defaults_canonical());
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      size_t colon = line.find(": ");
      MASKRT_ASSERT(colon != std::string::npos, "bad defaults line: ", line);
      std::string key = line.substr(0, colon), lit = line.substr(colon + 2);
      Value v;
      if (lit == "{}") v = Value::of(Kind::kNode);
      else MASKRT_ASSERT(LiteralParser(lit).parse(&v), "bad defaults literal: ", line);
      Value* node = &root;
      size_t start = 0;
      for (size_t dot; (dot = key.find('.', start)) != std::string::npos; start = dot + 1) {
        std::string part = key.substr(start, dot - start);
        if (!node->find(part)) node->set(part, Value::of(Kind::kNode));
        node = node->find(part);
      }
      node->set(key.substr(start), std::move(v));
    }
    return root;
  }();
  return kDefaults;
}

// Said when a word where merge_opts expects a key (or a dangling last word) names a file: almost always
// an image path typed among the command line's --opts words.
constexpr const char* kFileNotKeyHint =
    "is a file, not a config key: image paths are no --opts values (infer takes them before --opts or after "
    "whole KEY VALUE pairs; eval and bench take --images)";

// yacs merge_from_list.
void merge_opts(const std::vector<std::string>& opts, Value* root) {
  if (opts.size() % 2 != 0) {
    std::string list;
    for (const auto& o : opts) list += (list.empty() ? "" : " ") + o;
    std::error_code ec;
    MASKRT_FAIL(ErrorCode::kBadConfig, "opts: odd number of values (", opts.size(), "): '", list,
                "'; opts must be KEY VALUE pairs (the last key '", opts.back(), "' has no value)",
                std::filesystem::exists(opts.back(), ec)
                    ? "; '" + opts.back() + "' " + kFileNotKeyHint
                    : std::string());
  }
  for (size_t k = 0; k < opts.size(); k += 2) {
    const std::string& full_key = opts[k];
    Value* d = root;
    size_t start = 0;
    std::string part;
    for (;;) {
      size_t dot = full_key.find('.', start);
      part = full_key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (!(d->kind == Kind::kNode && d->find(part))) {
        std::error_code ec;  // a file name here is almost always an image path typed after --opts
        MASKRT_FAIL(ErrorCode::kBadConfig, "opts: Non-existent config key: ", full_key,
                    std::filesystem::exists(full_key, ec)
                        ? " ('" + full_key + "' " + kFileNotKeyHint + ")"
                        : std::string());
      }
      if (dot == std::string::npos) break;
      d = d->find(part);
      start = dot + 1;
    }
    Value v = decode_str(Value::str(opts[k + 1]));
    Value* dst = d->find(part);
    *dst = check_and_coerce(std::move(v), *dst, full_key, "opts");
    check_representable(*dst, full_key, "opts");
    dst->where = "opts";
  }
}

// ---------------------------------------------------------------------------------------------
// Canonical dump and hash.

void flatten(const Value& node, const std::string& prefix, std::vector<std::pair<std::string, std::string>>* out) {
  for (const auto& kv : node.fields) {
    std::string key = prefix + kv.first;
    if (kv.second.kind == Kind::kNode) {
      if (kv.second.fields.empty()) out->emplace_back(key, "{}");
      else flatten(kv.second, key + ".", out);
    } else {
      out->emplace_back(key, py_repr(kv.second));
    }
  }
}

std::string canonical_dump(const Value& root) {
  std::vector<std::pair<std::string, std::string>> lines;
  flatten(root, "", &lines);
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l.first + ": " + l.second + "\n";
  return out;
}

// SHA-256 (FIPS 180-4).
std::string sha256_hex(const std::string& msg) {
  static const uint32_t k[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
      0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
      0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
      0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
      0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
      0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
      0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  auto rotr = [](uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
  std::string data = msg;
  const uint64_t bit_len = uint64_t(msg.size()) * 8;
  data += char(0x80);
  while (data.size() % 64 != 56) data += char(0);
  for (int s = 56; s >= 0; s -= 8) data += char((bit_len >> s) & 0xff);
  for (size_t off = 0; off < data.size(); off += 64) {
    uint32_t w[64];
    for (int t = 0; t < 16; ++t) {
      const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data() + off + 4 * t);
      w[t] = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
    }
    for (int t = 16; t < 64; ++t) {
      uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
      uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; ++t) {
      uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[t] + w[t];
      uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  char hex[65];
  for (int t = 0; t < 8; ++t) std::snprintf(hex + 8 * t, 9, "%08x", h[t]);
  return std::string(hex, 64);
}

YAML::Node to_yaml(const Value& v) {
  switch (v.kind) {
    case Kind::kNone: return YAML::Node(YAML::NodeType::Null);
    case Kind::kBool: return YAML::Node(v.b ? "true" : "false");
    case Kind::kInt: return YAML::Node(std::to_string(v.i));
    case Kind::kFloat: return YAML::Node(py_float_repr(v.f));
    case Kind::kStr: return YAML::Node(v.s);
    case Kind::kList:
    case Kind::kTuple: {
      YAML::Node n(YAML::NodeType::Sequence);
      for (const auto& item : v.items) n.push_back(to_yaml(item));
      n.SetStyle(YAML::EmitterStyle::Flow);
      return n;
    }
    case Kind::kDict:
    case Kind::kNode: {
      YAML::Node n(YAML::NodeType::Map);
      std::vector<const std::pair<std::string, Value>*> sorted;
      for (const auto& kv : v.fields) sorted.push_back(&kv);
      std::sort(sorted.begin(), sorted.end(), [](auto* x, auto* y) { return x->first < y->first; });
      for (auto* kv : sorted) n[kv->first] = to_yaml(kv->second);
      return n;
    }
    case Kind::kOther: return YAML::Node(py_repr(v));
  }
  return YAML::Node();
}

// ---------------------------------------------------------------------------------------------
// ModelSpec: typed reads and validation.

class SpecReader {
 public:
  SpecReader(const Value& root, std::string origin) : root_(root), origin_(std::move(origin)) {}

  const Value& get(const std::string& key) const {
    const Value* v = &root_;
    size_t start = 0;
    for (;;) {
      size_t dot = key.find('.', start);
      v = v->find(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
      MASKRT_ASSERT(v != nullptr, "ModelSpec reads a key that is not in the defaults: ", key);
      if (dot == std::string::npos) return *v;
      start = dot + 1;
    }
  }

  [[noreturn]] void bad(const std::string& key, const std::string& why) const {
    MASKRT_FAIL(ErrorCode::kBadConfig, prefix(), key, " = ", short_repr(get(key)), ": ", why);
  }
  [[noreturn]] void unsupported(const std::string& key, const std::string& what) const {
    MASKRT_FAIL(ErrorCode::kUnsupported, prefix(), key, " = ", short_repr(get(key)),
                " is valid in Detectron2 but not supported by maskrt", what.empty() ? "" : " (" + what + ")");
  }
  void expect(bool cond, const std::string& key, const std::string& why) const { if (!cond) bad(key, why); }

  int64_t i64(const std::string& key) const {
    const Value& v = get(key);
    if (v.kind != Kind::kInt) bad(key, "expected int, found " + type_name(v));
    return v.i;
  }
  int i32(const std::string& key) const {
    int64_t v = i64(key);
    expect(v >= std::numeric_limits<int>::min() && v <= std::numeric_limits<int>::max(), key, "out of range");
    return int(v);
  }
  static bool is_num(const Value& v) { return v.kind == Kind::kInt || v.kind == Kind::kFloat; }
  static double num_of(const Value& v) { return v.kind == Kind::kInt ? double(v.i) : v.f; }
  double number(const std::string& key) const {
    const Value& v = get(key);
    if (!is_num(v)) bad(key, "expected a number, found " + type_name(v));
    return num_of(v);
  }
  bool boolean(const std::string& key) const {
    const Value& v = get(key);
    if (v.kind != Kind::kBool) bad(key, "expected bool, found " + type_name(v));
    return v.b;
  }
  std::string str(const std::string& key) const {
    const Value& v = get(key);
    if (v.kind != Kind::kStr) bad(key, "expected str, found " + type_name(v));
    return v.s;
  }
  const Value& seq(const std::string& key) const {
    const Value& v = get(key);
    if (!v.is_seq()) bad(key, "expected a list, found " + type_name(v));
    return v;
  }
  std::vector<std::string> str_list(const std::string& key) const {
    std::vector<std::string> out;
    for (const auto& item : seq(key).items) {
      if (item.kind != Kind::kStr) bad(key, "expected a list of strings");
      out.push_back(item.s);
    }
    return out;
  }
  std::vector<double> num_list(const std::string& key) const {
    std::vector<double> out;
    for (const auto& item : seq(key).items) {
      if (!is_num(item)) bad(key, "expected a list of numbers");
      out.push_back(num_of(item));
    }
    return out;
  }
  std::array<float, 4> weights4(const std::string& key) const {
    std::vector<double> w = num_list(key);
    expect(w.size() == 4, key, "expected 4 weights (dx, dy, dw, dh)");
    std::array<float, 4> out{};
    for (int k = 0; k < 4; ++k) {
      expect(std::isfinite(w[k]) && w[k] > 0, key, "weights must be positive");
      out[k] = float(w[k]);
    }
    return out;
  }
  // anchor_generator._broadcast_params: list[float] or [list[float]] -> one list per feature level.
  std::vector<std::vector<float>> per_level(const std::string& key, size_t num_levels) const {
    const Value& v = seq(key);
    expect(!v.items.empty(), key, "cannot be empty");
    std::vector<std::vector<float>> lists;
    if (!v.items[0].is_seq()) {
      std::vector<float> one;
      for (const auto& x : v.items) {
        expect(is_num(x), key, "expected numbers or lists of numbers");
        one.push_back(float(num_of(x)));
      }
      lists.assign(num_levels, one);
    } else {
      for (const auto& l : v.items) {
        expect(l.is_seq(), key, "mixes numbers and lists");
        std::vector<float> one;
        for (const auto& x : l.items) {
          expect(is_num(x), key, "expected lists of numbers");
          one.push_back(float(num_of(x)));
        }
        lists.push_back(one);
      }
      if (lists.size() == 1) lists.assign(num_levels, lists[0]);
      expect(lists.size() == num_levels, key,
             "has " + std::to_string(lists.size()) + " entries but MODEL.RPN.IN_FEATURES has " +
                 std::to_string(num_levels) + " feature maps");
    }
    for (const auto& l : lists) {
      for (float x : l) expect(std::isfinite(x) && x > 0, key, "values must be positive");
    }
    return lists;
  }
  void only(const std::string& key, std::initializer_list<const char*> allowed) const {
    std::string v = str(key);
    std::string list;
    for (const char* a : allowed) {
      if (v == a) return;
      list += (list.empty() ? "" : ", ") + std::string(a);
    }
    unsupported(key, "supported: " + list);
  }
  std::string prefix() const { return "config " + (origin_.empty() ? std::string("<string>") : origin_) + ": "; }

 private:
  const Value& root_;
  std::string origin_;
};

int level_of(const std::string& name, char letter) {
  // "res3" -> 3, "p4" -> 4; -1 if the name is not of that form
  std::string head = letter == 'r' ? "res" : "p";
  if (name.rfind(head, 0) != 0 || name.size() != head.size() + 1) return -1;
  char d = name.back();
  return (d >= '0' && d <= '9') ? d - '0' : -1;
}

void check_unit_interval(const SpecReader& r, const std::string& key) {
  double v = r.number(key);
  r.expect(v >= 0.0 && v <= 1.0, key, "must be in [0, 1]");
}

ModelSpec build_spec(const Value& root, const std::string& origin) {
  SpecReader r(root, origin);
  ModelSpec s;

  // Architecture choices first: a model maskrt does not run is reported as such.
  r.only("MODEL.META_ARCHITECTURE", {"GeneralizedRCNN"});
  r.only("MODEL.BACKBONE.NAME", {"build_resnet_fpn_backbone"});
  r.only("MODEL.PROPOSAL_GENERATOR.NAME", {"RPN"});
  r.only("MODEL.ANCHOR_GENERATOR.NAME", {"DefaultAnchorGenerator"});
  r.only("MODEL.RPN.HEAD_NAME", {"StandardRPNHead"});
  r.only("MODEL.ROI_HEADS.NAME", {"StandardROIHeads"});
  r.only("MODEL.ROI_BOX_HEAD.NAME", {"FastRCNNConvFCHead"});
  if (r.boolean("MODEL.KEYPOINT_ON")) r.unsupported("MODEL.KEYPOINT_ON", "keypoint heads");
  if (r.boolean("MODEL.LOAD_PROPOSALS")) r.unsupported("MODEL.LOAD_PROPOSALS", "precomputed proposals");
  if (r.boolean("MODEL.ROI_BOX_HEAD.USE_SIGMOID_CE"))
    r.unsupported("MODEL.ROI_BOX_HEAD.USE_SIGMOID_CE", "sigmoid class scores");
  s.mask_on = r.boolean("MODEL.MASK_ON");
  if (s.mask_on) r.only("MODEL.ROI_MASK_HEAD.NAME", {"MaskRCNNConvUpsampleHead"});
  {
    const Value& deform = r.seq("MODEL.RESNETS.DEFORM_ON_PER_STAGE");
    r.expect(deform.items.size() == 4, "MODEL.RESNETS.DEFORM_ON_PER_STAGE", "expected 4 flags (res2..res5)");
    for (const auto& f : deform.items) {
      r.expect(f.kind == Kind::kBool, "MODEL.RESNETS.DEFORM_ON_PER_STAGE", "expected booleans");
      if (f.b) r.unsupported("MODEL.RESNETS.DEFORM_ON_PER_STAGE", "deformable convolutions");
    }
  }
  {
    const std::string key = "MODEL.RESNETS.NORM";
    std::string norm = r.str(key);
    static const std::set<std::string> kOurs = {"FrozenBN", "BN", "SyncBN", ""};
    static const std::set<std::string> kD2 = {"GN", "nnSyncBN", "naiveSyncBN", "naiveSyncBN_N", "LN"};
    if (!kOurs.count(norm)) {
      if (kD2.count(norm)) r.unsupported(key, "supported: FrozenBN, BN, SyncBN, \"\"");
      r.bad(key, "not a Detectron2 norm (BN, SyncBN, FrozenBN, GN, nnSyncBN, naiveSyncBN, LN or \"\")");
    }
    s.resnet_norm = norm;
  }
  if (r.str("MODEL.FPN.NORM") != "") r.unsupported("MODEL.FPN.NORM", "supported: \"\"");
  if (r.str("MODEL.ROI_BOX_HEAD.NORM") != "") r.unsupported("MODEL.ROI_BOX_HEAD.NORM", "supported: \"\"");
  if (s.mask_on && r.str("MODEL.ROI_MASK_HEAD.NORM") != "") r.unsupported("MODEL.ROI_MASK_HEAD.NORM", "supported: \"\"");
  {
    int64_t dil = r.i64("MODEL.RESNETS.RES5_DILATION");
    r.expect(dil == 1 || dil == 2, "MODEL.RESNETS.RES5_DILATION", "must be 1 or 2");
    if (dil != 1) r.unsupported("MODEL.RESNETS.RES5_DILATION", "DC5 backbones; supported: 1");
    s.res5_dilation = int(dil);
  }
  auto pooler = [&](const std::string& key) {
    std::string t = r.str(key);
    if (t == "ROIAlignV2" || t == "ROIAlign") return t;
    if (t == "ROIPool" || t == "ROIAlignRotated") r.unsupported(key, "supported: ROIAlignV2, ROIAlign");
    r.bad(key, "unknown pooler type (Detectron2: ROIAlign, ROIAlignV2, ROIPool, ROIAlignRotated)");
  };
  s.box_pooler_type = pooler("MODEL.ROI_BOX_HEAD.POOLER_TYPE");
  if (s.mask_on) s.mask_pooler_type = pooler("MODEL.ROI_MASK_HEAD.POOLER_TYPE");
  {
    std::string fmt = r.str("INPUT.FORMAT");
    if (fmt != "BGR" && fmt != "RGB") r.unsupported("INPUT.FORMAT", "supported: BGR, RGB");
    s.input_format = fmt;
  }
  {
    const Value& conv = r.seq("MODEL.RPN.CONV_DIMS");
    if (conv.items.size() != 1) r.unsupported("MODEL.RPN.CONV_DIMS", "one conv layer in the RPN head");
    r.expect(conv.items[0].kind == Kind::kInt && (conv.items[0].i == -1 || conv.items[0].i > 0), "MODEL.RPN.CONV_DIMS",
             "expected [-1] or [channels]");
    s.rpn_head_conv_dims = int(conv.items[0].i);
  }

  // INPUT, normalisation
  s.min_size_test = r.i32("INPUT.MIN_SIZE_TEST");
  r.expect(s.min_size_test >= 0, "INPUT.MIN_SIZE_TEST", "must be >= 0 (0 disables resizing)");
  s.max_size_test = r.i32("INPUT.MAX_SIZE_TEST");
  r.expect(s.max_size_test > 0, "INPUT.MAX_SIZE_TEST", "must be > 0");
  {
    std::vector<double> mean = r.num_list("MODEL.PIXEL_MEAN"), stdv = r.num_list("MODEL.PIXEL_STD");
    // rcnn.py: tensor(mean).view(-1, 1, 1), asserted to have the shape of std; one value broadcasts.
    r.expect(mean.size() == stdv.size(), "MODEL.PIXEL_MEAN", "must have as many values as MODEL.PIXEL_STD");
    r.expect(mean.size() == 3 || mean.size() == 1, "MODEL.PIXEL_MEAN", "expected 3 values (or 1 for all channels)");
    for (int c = 0; c < 3; ++c) {
      s.pixel_mean[c] = float(mean[mean.size() == 1 ? 0 : c]);
      s.pixel_std[c] = float(stdv[stdv.size() == 1 ? 0 : c]);
      r.expect(std::isfinite(s.pixel_mean[c]), "MODEL.PIXEL_MEAN", "must be finite");
      r.expect(std::isfinite(s.pixel_std[c]) && s.pixel_std[c] != 0.f, "MODEL.PIXEL_STD", "must be finite and non-zero");
    }
  }

  // MODEL.RESNETS (build_resnet_backbone)
  s.depth = r.i32("MODEL.RESNETS.DEPTH");
  r.expect(s.depth == 18 || s.depth == 34 || s.depth == 50 || s.depth == 101 || s.depth == 152, "MODEL.RESNETS.DEPTH",
           "must be one of 18, 34, 50, 101, 152");
  s.num_groups = r.i32("MODEL.RESNETS.NUM_GROUPS");
  r.expect(s.num_groups >= 1, "MODEL.RESNETS.NUM_GROUPS", "must be >= 1");
  s.width_per_group = r.i32("MODEL.RESNETS.WIDTH_PER_GROUP");
  r.expect(s.width_per_group >= 1, "MODEL.RESNETS.WIDTH_PER_GROUP", "must be >= 1");
  s.stride_in_1x1 = r.boolean("MODEL.RESNETS.STRIDE_IN_1X1");
  s.res2_out_channels = r.i32("MODEL.RESNETS.RES2_OUT_CHANNELS");
  r.expect(s.res2_out_channels >= 1, "MODEL.RESNETS.RES2_OUT_CHANNELS", "must be >= 1");
  s.stem_out_channels = r.i32("MODEL.RESNETS.STEM_OUT_CHANNELS");
  r.expect(s.stem_out_channels >= 1, "MODEL.RESNETS.STEM_OUT_CHANNELS", "must be >= 1");
  if (s.depth == 18 || s.depth == 34) {
    r.expect(s.res2_out_channels == 64, "MODEL.RESNETS.RES2_OUT_CHANNELS", "must be 64 for R18/R34 (Detectron2 asserts)");
    r.expect(s.num_groups == 1, "MODEL.RESNETS.NUM_GROUPS", "must be 1 for R18/R34: no ResNeXt basic blocks (Detectron2 asserts)");
  }
  s.freeze_at = r.i32("MODEL.BACKBONE.FREEZE_AT");
  s.resnet_out_features = r.str_list("MODEL.RESNETS.OUT_FEATURES");
  r.expect(!s.resnet_out_features.empty(), "MODEL.RESNETS.OUT_FEATURES", "cannot be empty");
  for (const auto& f : s.resnet_out_features)
    r.expect(f == "stem" || (level_of(f, 'r') >= 2 && level_of(f, 'r') <= 5), "MODEL.RESNETS.OUT_FEATURES",
             "'" + f + "' is not one of stem, res2, res3, res4, res5");

  // MODEL.FPN (FPN with LastLevelMaxPool on p5)
  s.fpn_in_features = r.str_list("MODEL.FPN.IN_FEATURES");
  const std::string fk = "MODEL.FPN.IN_FEATURES";
  r.expect(!s.fpn_in_features.empty(), fk, "cannot be empty");
  std::vector<std::string> fpn_out;
  for (size_t k = 0; k < s.fpn_in_features.size(); ++k) {
    const std::string& f = s.fpn_in_features[k];
    r.expect(std::find(s.resnet_out_features.begin(), s.resnet_out_features.end(), f) != s.resnet_out_features.end(), fk,
             "'" + f + "' is not in MODEL.RESNETS.OUT_FEATURES");
    int lvl = level_of(f, 'r');
    r.expect(lvl >= 2 && lvl <= 5, fk, "'" + f + "' is not one of res2..res5");
    r.expect(k == 0 || lvl == level_of(s.fpn_in_features[k - 1], 'r') + 1, fk,
             "strides must increase by 2x from one feature to the next (e.g. res2, res3, res4, res5)");
    fpn_out.push_back("p" + std::to_string(lvl));
  }
  r.expect(s.fpn_in_features.back() == "res5", fk, "must end with res5: the p6 max-pool reads p5");
  fpn_out.push_back("p6");
  s.fpn_out_channels = r.i32("MODEL.FPN.OUT_CHANNELS");
  r.expect(s.fpn_out_channels >= 1, "MODEL.FPN.OUT_CHANNELS", "must be >= 1");
  s.fpn_norm = r.str("MODEL.FPN.NORM");
  s.fpn_fuse_type = r.str("MODEL.FPN.FUSE_TYPE");
  r.expect(s.fpn_fuse_type == "sum" || s.fpn_fuse_type == "avg", "MODEL.FPN.FUSE_TYPE", "must be sum or avg");
  auto subset_of_fpn = [&](const std::string& key, const std::vector<std::string>& names) {
    r.expect(!names.empty(), key, "cannot be empty");
    for (const auto& n : names)
      r.expect(std::find(fpn_out.begin(), fpn_out.end(), n) != fpn_out.end(), key,
               "'" + n + "' is not an FPN output (p2..p6 for the FPN input features)");
  };

  // MODEL.RPN, anchors
  s.rpn_in_features = r.str_list("MODEL.RPN.IN_FEATURES");
  subset_of_fpn("MODEL.RPN.IN_FEATURES", s.rpn_in_features);
  s.anchor_sizes = r.per_level("MODEL.ANCHOR_GENERATOR.SIZES", s.rpn_in_features.size());
  s.anchor_aspect_ratios = r.per_level("MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS", s.rpn_in_features.size());
  for (size_t k = 0; k < s.anchor_sizes.size(); ++k)
    r.expect(s.anchor_sizes[k].size() * s.anchor_aspect_ratios[k].size() ==
                 s.anchor_sizes[0].size() * s.anchor_aspect_ratios[0].size(),
             "MODEL.ANCHOR_GENERATOR.SIZES", "each level must have the same number of anchors per position");
  s.anchor_offset = float(r.number("MODEL.ANCHOR_GENERATOR.OFFSET"));
  r.expect(s.anchor_offset >= 0.f && s.anchor_offset < 1.f, "MODEL.ANCHOR_GENERATOR.OFFSET", "must be in [0, 1)");
  s.rpn_pre_nms_topk_test = r.i32("MODEL.RPN.PRE_NMS_TOPK_TEST");
  r.expect(s.rpn_pre_nms_topk_test >= 1, "MODEL.RPN.PRE_NMS_TOPK_TEST", "must be >= 1");
  s.rpn_post_nms_topk_test = r.i32("MODEL.RPN.POST_NMS_TOPK_TEST");
  r.expect(s.rpn_post_nms_topk_test >= 1, "MODEL.RPN.POST_NMS_TOPK_TEST", "must be >= 1");
  check_unit_interval(r, "MODEL.RPN.NMS_THRESH");
  s.rpn_nms_thresh = float(r.number("MODEL.RPN.NMS_THRESH"));
  s.rpn_bbox_reg_weights = r.weights4("MODEL.RPN.BBOX_REG_WEIGHTS");
  s.proposal_min_size = float(r.number("MODEL.PROPOSAL_GENERATOR.MIN_SIZE"));
  r.expect(s.proposal_min_size >= 0.f, "MODEL.PROPOSAL_GENERATOR.MIN_SIZE", "must be >= 0");

  // MODEL.ROI_HEADS
  s.num_classes = r.i32("MODEL.ROI_HEADS.NUM_CLASSES");
  r.expect(s.num_classes >= 1, "MODEL.ROI_HEADS.NUM_CLASSES", "must be >= 1");
  s.roi_in_features = r.str_list("MODEL.ROI_HEADS.IN_FEATURES");
  subset_of_fpn("MODEL.ROI_HEADS.IN_FEATURES", s.roi_in_features);
  for (size_t k = 1; k < s.roi_in_features.size(); ++k)
    r.expect(level_of(s.roi_in_features[k], 'p') == level_of(s.roi_in_features[k - 1], 'p') + 1,
             "MODEL.ROI_HEADS.IN_FEATURES", "the pooled levels must form a pyramid (consecutive, increasing)");
  check_unit_interval(r, "MODEL.ROI_HEADS.SCORE_THRESH_TEST");
  s.score_thresh_test = float(r.number("MODEL.ROI_HEADS.SCORE_THRESH_TEST"));
  check_unit_interval(r, "MODEL.ROI_HEADS.NMS_THRESH_TEST");
  s.nms_thresh_test = float(r.number("MODEL.ROI_HEADS.NMS_THRESH_TEST"));
  s.detections_per_image = r.i32("TEST.DETECTIONS_PER_IMAGE");
  r.expect(s.detections_per_image >= 1, "TEST.DETECTIONS_PER_IMAGE", "must be >= 1");

  // MODEL.ROI_BOX_HEAD
  s.box_num_conv = r.i32("MODEL.ROI_BOX_HEAD.NUM_CONV");
  r.expect(s.box_num_conv >= 0, "MODEL.ROI_BOX_HEAD.NUM_CONV", "must be >= 0");
  s.box_conv_dim = r.i32("MODEL.ROI_BOX_HEAD.CONV_DIM");
  r.expect(s.box_conv_dim >= 1, "MODEL.ROI_BOX_HEAD.CONV_DIM", "must be >= 1");
  s.box_num_fc = r.i32("MODEL.ROI_BOX_HEAD.NUM_FC");
  r.expect(s.box_num_fc >= 0, "MODEL.ROI_BOX_HEAD.NUM_FC", "must be >= 0");
  r.expect(s.box_num_conv + s.box_num_fc > 0, "MODEL.ROI_BOX_HEAD.NUM_FC",
           "NUM_CONV + NUM_FC must be > 0 (Detectron2 asserts)");
  s.box_fc_dim = r.i32("MODEL.ROI_BOX_HEAD.FC_DIM");
  r.expect(s.box_fc_dim >= 1, "MODEL.ROI_BOX_HEAD.FC_DIM", "must be >= 1");
  s.box_pooler_resolution = r.i32("MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION");
  r.expect(s.box_pooler_resolution >= 1, "MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION", "must be >= 1");
  s.box_pooler_sampling_ratio = r.i32("MODEL.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO");
  r.expect(s.box_pooler_sampling_ratio >= 0, "MODEL.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO", "must be >= 0 (0 = adaptive)");
  s.box_bbox_reg_weights = r.weights4("MODEL.ROI_BOX_HEAD.BBOX_REG_WEIGHTS");
  s.cls_agnostic_bbox_reg = r.boolean("MODEL.ROI_BOX_HEAD.CLS_AGNOSTIC_BBOX_REG");

  // MODEL.ROI_MASK_HEAD (read only when the mask head is built, as in Detectron2)
  if (s.mask_on) {
    s.mask_num_conv = r.i32("MODEL.ROI_MASK_HEAD.NUM_CONV");
    r.expect(s.mask_num_conv >= 1, "MODEL.ROI_MASK_HEAD.NUM_CONV", "must be >= 1 (Detectron2 asserts)");
    s.mask_conv_dim = r.i32("MODEL.ROI_MASK_HEAD.CONV_DIM");
    r.expect(s.mask_conv_dim >= 1, "MODEL.ROI_MASK_HEAD.CONV_DIM", "must be >= 1");
    s.mask_pooler_resolution = r.i32("MODEL.ROI_MASK_HEAD.POOLER_RESOLUTION");
    r.expect(s.mask_pooler_resolution >= 1, "MODEL.ROI_MASK_HEAD.POOLER_RESOLUTION", "must be >= 1");
    s.mask_pooler_sampling_ratio = r.i32("MODEL.ROI_MASK_HEAD.POOLER_SAMPLING_RATIO");
    r.expect(s.mask_pooler_sampling_ratio >= 0, "MODEL.ROI_MASK_HEAD.POOLER_SAMPLING_RATIO", "must be >= 0 (0 = adaptive)");
    s.cls_agnostic_mask = r.boolean("MODEL.ROI_MASK_HEAD.CLS_AGNOSTIC_MASK");
  }

  const Value& w = r.get("MODEL.WEIGHTS");
  r.expect(w.kind == Kind::kStr || w.kind == Kind::kNone, "MODEL.WEIGHTS", "expected a path");
  s.weights = w.kind == Kind::kStr ? w.s : "";
  s.weights_where = w.where;
  return s;
}

Config finish(Value loaded, const std::string& origin, const std::vector<std::string>& opts) {
  check_version(loaded, origin.empty() ? "<string>" : origin);
  Value merged = defaults();
  merge_into(loaded, &merged, "");
  merge_opts(opts, &merged);
  Config cfg;
  cfg.path = origin;
  cfg.canonical = canonical_dump(merged);
  cfg.hash = sha256_hex(cfg.canonical);
  // Errors in the merged values name the --opts keys too: a bad value may come from either.
  std::string where = origin.empty() ? std::string("<string>") : origin;
  for (size_t i = 0; i < opts.size(); i += 2) where += (i == 0 ? " + --opts " : ", ") + opts[i];
  cfg.spec = build_spec(merged, where);
  cfg.merged = to_yaml(merged);
  return cfg;
}

}  // namespace

Config load_config(const std::string& path, const std::vector<std::string>& opts) {
  std::string text = read_file(path);
  std::vector<std::string> stack;
  return finish(load_with_base(text, path, &stack), path, opts);
}

Config load_config_from_string(const std::string& yaml_text, const std::string& origin,
                               const std::vector<std::string>& opts) {
  std::vector<std::string> stack;
  return finish(load_with_base(yaml_text, origin, &stack), origin, opts);
}

}  // namespace maskrt
