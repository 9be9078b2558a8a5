#include "io/pickle.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/check.h"

namespace maskrt::pickle {
namespace {

// Opcodes (Python's Lib/pickletools.py documents them).
enum Op : uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', FLOAT = 'F', INT = 'I', BININT = 'J',
  BININT1 = 'K', LONG = 'L', BININT2 = 'M', NONE = 'N', PERSID = 'P', BINPERSID = 'Q', REDUCE = 'R',
  STRING = 'S', BINSTRING = 'T', SHORT_BINSTRING = 'U', UNICODE = 'V', BINUNICODE = 'X', APPEND = 'a',
  BUILD = 'b', GLOBAL = 'c', DICT = 'd', EMPTY_DICT = '}', APPENDS = 'e', GET = 'g', BINGET = 'h',
  INST = 'i', LONG_BINGET = 'j', LIST = 'l', EMPTY_LIST = ']', OBJ = 'o', PUT = 'p', BINPUT = 'q',
  LONG_BINPUT = 'r', SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G',
  PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84, TUPLE1 = 0x85, TUPLE2 = 0x86,
  TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b, BINBYTES = 'B',
  SHORT_BINBYTES = 'C', SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e, EMPTY_SET = 0x8f,
  ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92, STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95,
  BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97, READONLY_BUFFER = 0x98,
};

uint32_t rd32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t rd64(const uint8_t* p) { return static_cast<uint64_t>(rd32(p)) | (static_cast<uint64_t>(rd32(p + 4)) << 32); }

std::string printable_op(uint8_t op) {
  char buf[16];
  if (op >= 0x20 && op < 0x7f) std::snprintf(buf, sizeof buf, "'%c'", op);
  else std::snprintf(buf, sizeof buf, "0x%02x", op);
  return buf;
}

// Python 2 module names that Python 3's unpickler maps (the subset relevant to data pickles).
std::string py3_module(std::string m) {
  if (m == "__builtin__") return "builtins";
  if (m == "copy_reg") return "copyreg";
  return m;
}

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kStr: return "str";
    case Kind::kBytes: return "bytes";
    case Kind::kTuple: return "tuple";
    case Kind::kList: return "list";
    case Kind::kDict: return "dict";
    case Kind::kSet: return "set";
    case Kind::kGlobal: return "global";
    case Kind::kObject: return "object";
    case Kind::kPersistentId: return "persistent id";
  }
  return "?";
}

const Node* dict_get(const Node& dict, std::string_view key) {
  if (dict.kind != Kind::kDict) return nullptr;
  for (size_t i = dict.items.size(); i >= 2; i -= 2)
    if (dict.items[i - 2]->is_str(key)) return dict.items[i - 1].get();
  return nullptr;
}

std::string describe(const Node& n) {
  if (n.kind == Kind::kGlobal) return n.module + "." + n.name;
  if (n.kind == Kind::kObject && n.callable) return "object built by " + describe(*n.callable);
  return kind_name(n.kind);
}

std::string utf8_to_latin1(std::string_view s) {
  // Array data pickled as text are ~50% bytes >= 0x80 at random, so this is a branch-free stream
  // compaction over the input: every byte that is not a continuation byte (10xxxxxx) starts one output
  // byte (itself, or a C2/C3 lead combined with its continuation), so the loop carries no dependency
  // through the loads. Validity (leads are exactly C2/C3, each followed by one continuation byte, no
  // stray continuation) is accumulated and checked once; a slow pass then finds the offending offset.
  std::string out;
  out.resize(s.size());
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  auto* o = reinterpret_cast<uint8_t*>(out.data());
  size_t k = 0;
  unsigned bad = n > 0 && (p[0] & 0xC0) == 0x80;
  auto step = [&](size_t j, unsigned next) {
    const unsigned c = p[j];
    const unsigned lead = c >> 6 == 3, cont_next = next >> 6 == 2;
    bad |= (c >= 0xC4) | (c - 0xC0 < 2) | (lead ^ cont_next);
    const unsigned mask = 0u - lead;  // all ones for a lead byte: select with masks, not a branch
    o[k] = static_cast<uint8_t>(((((c & 0x03) << 6) | (next & 0x3F)) & mask) | (c & ~mask));
    k += c >> 6 != 2;
  };
  for (size_t j = 0; j + 1 < n; ++j) step(j, p[j + 1]);
  if (n > 0) step(n - 1, 0);
  if (bad) {
    for (size_t j = 0; j < n;) {
      const uint8_t c = p[j];
      if (c < 0x80) { ++j; continue; }
      if ((c == 0xC2 || c == 0xC3) && j + 1 < n && (p[j + 1] & 0xC0) == 0x80) { j += 2; continue; }
      MASKRT_FAIL(ErrorCode::kBadCheckpoint, "text to encode as latin-1 has a byte 0x", std::hex, int{c},
                  " at offset ", std::dec, j, " that is not a UTF-8 code point below 256");
    }
  }
  out.resize(k);
  return out;
}

Unpickler::Unpickler(const uint8_t* data, size_t size) : data_(data), size_(size) {}

Unpickler::~Unpickler() {
  // Unlink every node first: each is still owned by all_, so nothing is destroyed recursively, and
  // reference cycles built through the memo are broken.
  for (const Ref& n : all_) {
    n->items.clear();
    n->callable.reset();
    n->args.reset();
    n->state.reset();
  }
}

void Unpickler::fail(const std::string& what) const {
  MASKRT_FAIL(ErrorCode::kBadCheckpoint, "pickle: ", what, " (opcode ", printable_op(op_), " at offset ", op_pos_, ")");
}

Ref Unpickler::make(Kind k) {
  if (all_.size() >= kMaxNodes) fail("more than " + std::to_string(kMaxNodes) + " objects");
  auto n = std::make_shared<Node>();
  n->kind = k;
  all_.push_back(n);
  return n;
}

void Unpickler::push(Ref r) {
  if (stack_.size() >= kMaxStack) fail("stack deeper than " + std::to_string(kMaxStack));
  stack_.push_back(std::move(r));
}

Ref Unpickler::pop() {
  if (stack_.size() <= floor()) fail("stack underflow");
  Ref r = std::move(stack_.back());
  stack_.pop_back();
  return r;
}

Ref& Unpickler::top() {
  if (stack_.size() <= floor()) fail("stack underflow");
  return stack_.back();
}

std::vector<Ref> Unpickler::pop_mark() {
  if (marks_.empty()) fail("no MARK on the stack");
  size_t m = marks_.back();
  marks_.pop_back();
  std::vector<Ref> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(m)),
                         std::make_move_iterator(stack_.end()));
  stack_.resize(m);
  return items;
}

const uint8_t* Unpickler::take(size_t n) {
  if (n > size_ - pos_) fail("truncated: needs " + std::to_string(n) + " bytes, " + std::to_string(size_ - pos_) + " left");
  const uint8_t* p = data_ + pos_;
  pos_ += n;
  return p;
}

std::string_view Unpickler::line() {
  const void* nl = std::memchr(data_ + pos_, '\n', size_ - pos_);
  if (!nl) fail("truncated: unterminated text line");
  size_t len = static_cast<const uint8_t*>(nl) - (data_ + pos_);
  std::string_view s(reinterpret_cast<const char*>(data_ + pos_), len);
  pos_ += len + 1;
  return s;
}

Ref Unpickler::make_bytes(Kind k, size_t n, bool unicode) {
  const uint8_t* p = take(n);
  Ref r = make(k);
  r->data = p;
  r->size = n;
  r->unicode = unicode;
  return r;
}

Ref Unpickler::make_int(const uint8_t* p, size_t n) {
  // Little-endian two's complement, as LONG1 / LONG4 store it.
  Ref r = make(Kind::kInt);
  if (n == 0) return r;
  if (n > 8) {
    // Fits int64 only if the extra bytes are pure sign extension.
    const uint8_t ext = (p[7] & 0x80) ? 0xFF : 0x00;
    for (size_t i = 8; i < n; ++i)
      if (p[i] != ext) {
        r->big_int = true;
        return r;
      }
    n = 8;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  if (n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);
  r->ival = static_cast<int64_t>(v);
  return r;
}

Ref Unpickler::make_tuple(std::vector<Ref> items) {
  Ref r = make(Kind::kTuple);
  r->items = std::move(items);
  return r;
}

void Unpickler::memo_put(uint64_t idx) {
  if (memo_.size() >= kMaxMemo && !memo_.count(idx)) fail("memo larger than " + std::to_string(kMaxMemo));
  memo_[idx] = top();
}

Ref Unpickler::memo_get(uint64_t idx) {
  auto it = memo_.find(idx);
  if (it == memo_.end()) fail("memo key " + std::to_string(idx) + " is not defined");
  return it->second;
}

Ref Unpickler::call(Ref callable, Ref args) {
  if (args->kind != Kind::kTuple) fail("call arguments are a " + std::string(kind_name(args->kind)) + ", not a tuple");
  if (callable->kind == Kind::kGlobal) {
    const std::string& m = callable->module;
    const std::string& n = callable->name;
    const auto& a = args->items;
    if ((m == "collections" && n == "OrderedDict") || (m == "builtins" && n == "dict")) {
      if (a.empty()) return make(Kind::kDict);
    } else if (m == "_codecs" && n == "encode") {
      // Python 3 pickles bytes at protocol <= 2 as _codecs.encode(bytes.decode("latin1"), "latin1").
      if (a.size() == 2 && a[0]->kind == Kind::kStr && a[1]->kind == Kind::kStr &&
          (a[1]->bytes() == "latin1" || a[1]->bytes() == "latin-1")) {
        Ref r = make(Kind::kBytes);
        auto s = std::make_shared<const std::string>(a[0]->unicode ? utf8_to_latin1(a[0]->bytes()) : std::string(a[0]->bytes()));
        r->data = reinterpret_cast<const uint8_t*>(s->data());
        r->size = s->size();
        r->owned = std::move(s);
        return r;
      }
    } else if (m == "builtins" && (n == "bytes" || n == "bytearray") && a.empty()) {
      return make(Kind::kBytes);  // protocol <= 2 pickles b"" as bytes()
    } else if (m == "builtins" && (n == "set" || n == "frozenset")) {
      if (a.empty()) return make(Kind::kSet);
      if (a.size() == 1 && (a[0]->kind == Kind::kList || a[0]->kind == Kind::kTuple)) {
        Ref r = make(Kind::kSet);
        r->items = a[0]->items;
        return r;
      }
    }
  }
  Ref r = make(Kind::kObject);
  r->callable = std::move(callable);
  r->args = std::move(args);
  return r;
}

Ref Unpickler::load() {
  while (true) {
    op_pos_ = pos_;
    op_ = *take(1);
    switch (op_) {
      case PROTO: {
        uint8_t v = *take(1);
        if (v > 5) fail("unsupported pickle protocol " + std::to_string(v));
        break;
      }
      case FRAME: take(8); break;  // framing is only a read-ahead hint; the whole buffer is in memory
      case STOP: {
        Ref r = pop();
        return r;
      }
      case MARK:
        if (marks_.size() >= kMaxStack) fail("too many MARKs");
        marks_.push_back(stack_.size());
        break;
      case POP:
        if (stack_.size() > floor()) stack_.pop_back();
        else pop_mark();
        break;
      case POP_MARK: pop_mark(); break;
      case DUP: { Ref r = top(); push(std::move(r)); break; }
      case NONE: push(make(Kind::kNone)); break;
      case NEWTRUE:
      case NEWFALSE: { Ref r = make(Kind::kBool); r->ival = op_ == NEWTRUE; push(std::move(r)); break; }
      case BININT: { const uint8_t* p = take(4); Ref r = make(Kind::kInt); r->ival = static_cast<int32_t>(rd32(p)); push(std::move(r)); break; }
      case BININT1: { Ref r = make(Kind::kInt); r->ival = *take(1); push(std::move(r)); break; }
      case BININT2: { const uint8_t* p = take(2); Ref r = make(Kind::kInt); r->ival = p[0] | (p[1] << 8); push(std::move(r)); break; }
      case LONG1: { size_t n = *take(1); push(make_int(take(n), n)); break; }
      case LONG4: {
        int32_t n = static_cast<int32_t>(rd32(take(4)));
        if (n < 0) fail("negative LONG4 length");
        push(make_int(take(static_cast<size_t>(n)), static_cast<size_t>(n)));
        break;
      }
      case INT:
      case LONG: {
        std::string s(line());
        if (op_ == LONG && !s.empty() && s.back() == 'L') s.pop_back();
        Ref r = make(Kind::kInt);
        if (op_ == INT && (s == "00" || s == "01")) {
          r->kind = Kind::kBool;
          r->ival = s == "01";
        } else {
          errno = 0;
          char* end = nullptr;
          long long v = std::strtoll(s.c_str(), &end, 10);
          if (s.empty() || end != s.c_str() + s.size()) fail("malformed integer text");
          if (errno == ERANGE) r->big_int = true;
          else r->ival = v;
        }
        push(std::move(r));
        break;
      }
      case BINFLOAT: {
        const uint8_t* p = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];  // big-endian
        Ref r = make(Kind::kFloat);
        std::memcpy(&r->fval, &bits, 8);
        push(std::move(r));
        break;
      }
      case FLOAT: {
        std::string s(line());
        char* end = nullptr;
        Ref r = make(Kind::kFloat);
        r->fval = std::strtod(s.c_str(), &end);
        if (s.empty() || end != s.c_str() + s.size()) fail("malformed float text");
        push(std::move(r));
        break;
      }
      case SHORT_BINSTRING: { size_t n = *take(1); push(make_bytes(Kind::kStr, n, false)); break; }
      case BINSTRING: {
        int32_t n = static_cast<int32_t>(rd32(take(4)));
        if (n < 0) fail("negative BINSTRING length");
        push(make_bytes(Kind::kStr, static_cast<size_t>(n), false));
        break;
      }
      case SHORT_BINUNICODE: { size_t n = *take(1); push(make_bytes(Kind::kStr, n, true)); break; }
      case BINUNICODE: { size_t n = rd32(take(4)); push(make_bytes(Kind::kStr, n, true)); break; }
      case BINUNICODE8: {
        uint64_t n = rd64(take(8));
        if (n > size_) fail("BINUNICODE8 length exceeds the file");
        push(make_bytes(Kind::kStr, static_cast<size_t>(n), true));
        break;
      }
      case SHORT_BINBYTES: { size_t n = *take(1); push(make_bytes(Kind::kBytes, n, false)); break; }
      case BINBYTES: { size_t n = rd32(take(4)); push(make_bytes(Kind::kBytes, n, false)); break; }
      case BINBYTES8:
      case BYTEARRAY8: {
        uint64_t n = rd64(take(8));
        if (n > size_) fail("byte string length exceeds the file");
        push(make_bytes(Kind::kBytes, static_cast<size_t>(n), false));
        break;
      }
      case READONLY_BUFFER: top(); break;
      case NEXT_BUFFER: fail("out-of-band buffers (NEXT_BUFFER) are not supported; pickle without buffer_callback");
      case EMPTY_TUPLE: push(make_tuple({})); break;
      case TUPLE1: { Ref a = pop(); push(make_tuple({a})); break; }
      case TUPLE2: { Ref b = pop(); Ref a = pop(); push(make_tuple({a, b})); break; }
      case TUPLE3: { Ref c = pop(); Ref b = pop(); Ref a = pop(); push(make_tuple({a, b, c})); break; }
      case TUPLE: push(make_tuple(pop_mark())); break;
      case EMPTY_LIST: push(make(Kind::kList)); break;
      case LIST: { Ref r = make(Kind::kList); r->items = pop_mark(); push(std::move(r)); break; }
      case EMPTY_DICT: push(make(Kind::kDict)); break;
      case DICT: {
        std::vector<Ref> kv = pop_mark();
        if (kv.size() % 2) fail("DICT with an odd number of items");
        Ref r = make(Kind::kDict);
        r->items = std::move(kv);
        push(std::move(r));
        break;
      }
      case EMPTY_SET: push(make(Kind::kSet)); break;
      case FROZENSET: { Ref r = make(Kind::kSet); r->items = pop_mark(); push(std::move(r)); break; }
      case APPEND: {
        Ref v = pop();
        Ref& l = top();
        if (l->kind != Kind::kList && l->kind != Kind::kObject) fail(std::string("APPEND to a ") + kind_name(l->kind));
        l->items.push_back(std::move(v));
        break;
      }
      case APPENDS:
      case ADDITEMS: {
        std::vector<Ref> vs = pop_mark();
        Ref& l = top();
        Kind want = op_ == APPENDS ? Kind::kList : Kind::kSet;
        if (l->kind != want && l->kind != Kind::kObject) fail(std::string("adding items to a ") + kind_name(l->kind));
        l->items.insert(l->items.end(), vs.begin(), vs.end());
        break;
      }
      case SETITEM: {
        Ref v = pop();
        Ref k = pop();
        Ref& d = top();
        if (d->kind != Kind::kDict && d->kind != Kind::kObject) fail(std::string("SETITEM on a ") + kind_name(d->kind));
        d->items.push_back(std::move(k));
        d->items.push_back(std::move(v));
        break;
      }
      case SETITEMS: {
        std::vector<Ref> kv = pop_mark();
        if (kv.size() % 2) fail("SETITEMS with an odd number of items");
        Ref& d = top();
        if (d->kind != Kind::kDict && d->kind != Kind::kObject) fail(std::string("SETITEMS on a ") + kind_name(d->kind));
        d->items.insert(d->items.end(), kv.begin(), kv.end());
        break;
      }
      case GLOBAL: {
        std::string m(line());
        std::string n(line());
        Ref r = make(Kind::kGlobal);
        r->module = py3_module(std::move(m));
        r->name = std::move(n);
        push(std::move(r));
        break;
      }
      case STACK_GLOBAL: {
        Ref n = pop();
        Ref m = pop();
        if (m->kind != Kind::kStr || n->kind != Kind::kStr) fail("STACK_GLOBAL needs two strings");
        Ref r = make(Kind::kGlobal);
        r->module = py3_module(std::string(m->bytes()));
        r->name = std::string(n->bytes());
        push(std::move(r));
        break;
      }
      case REDUCE: {
        Ref args = pop();
        Ref fn = pop();
        push(call(std::move(fn), std::move(args)));
        break;
      }
      case NEWOBJ: {
        Ref args = pop();
        Ref cls = pop();
        push(call(std::move(cls), std::move(args)));
        break;
      }
      case NEWOBJ_EX: {
        Ref kwargs = pop();
        Ref args = pop();
        Ref cls = pop();
        Ref r = call(std::move(cls), std::move(args));
        if (r->kind == Kind::kObject) r->state = std::move(kwargs);
        push(std::move(r));
        break;
      }
      case BUILD: {
        Ref state = pop();
        Ref& obj = top();
        // Objects keep their state; BUILD on a dict (OrderedDict's __dict__, e.g. a state_dict's
        // _metadata) sets attributes we do not need.
        if (obj->kind == Kind::kObject) obj->state = std::move(state);
        break;
      }
      case BINPERSID: {
        Ref pid = pop();
        Ref r = make(Kind::kPersistentId);
        r->args = std::move(pid);
        push(std::move(r));
        break;
      }
      case PERSID: {
        std::string_view s = line();
        Ref pid = make(Kind::kStr);
        pid->data = reinterpret_cast<const uint8_t*>(s.data());
        pid->size = s.size();
        Ref r = make(Kind::kPersistentId);
        r->args = std::move(pid);
        push(std::move(r));
        break;
      }
      case BINPUT: memo_put(*take(1)); break;
      case LONG_BINPUT: memo_put(rd32(take(4))); break;
      case MEMOIZE: memo_put(memo_.size()); break;
      case PUT: {
        std::string s(line());
        char* end = nullptr;
        unsigned long long idx = std::strtoull(s.c_str(), &end, 10);
        if (s.empty() || end != s.c_str() + s.size()) fail("malformed PUT index");
        memo_put(idx);
        break;
      }
      case BINGET: push(memo_get(*take(1))); break;
      case LONG_BINGET: push(memo_get(rd32(take(4)))); break;
      case GET: {
        std::string s(line());
        char* end = nullptr;
        unsigned long long idx = std::strtoull(s.c_str(), &end, 10);
        if (s.empty() || end != s.c_str() + s.size()) fail("malformed GET index");
        push(memo_get(idx));
        break;
      }
      case STRING: case UNICODE: case INST: case OBJ: case EXT1: case EXT2: case EXT4:
        fail("unsupported opcode (pickle protocol 0/1 or the extension registry)");
      default: fail("unknown opcode");
    }
  }
}

}  // namespace maskrt::pickle
