#pragma once
// A small pickle virtual machine (protocols 2..5) that builds an inert object graph; it never runs
// code. Used by the checkpoint readers (io/checkpoint.cpp) for Detectron2 model-zoo `.pkl` files and
// for the data.pkl inside torch.save archives.
//
// What the opcodes become:
//   - None, bool, int (int64; wider LONG1/LONG4 values become kInt with big_int = true), float;
//   - str (UTF-8, unicode = true) and Python 2 byte strings (BINSTRING / SHORT_BINSTRING, unicode =
//     false) are kStr; bytes / bytearray are kBytes. Both are views into the pickle buffer;
//   - tuple, list, dict (key/value pairs in insertion order, duplicates kept: the last one wins in
//     dict_get), set / frozenset;
//   - GLOBAL / STACK_GLOBAL -> kGlobal (module, name); nothing is imported or looked up, so an unknown
//     global is not an error here: the interpreter of the graph decides (and names it in its error);
//   - REDUCE / NEWOBJ / NEWOBJ_EX -> kObject {callable, args}; BUILD stores `state` on it; SETITEMS /
//     APPENDS on an object collect into `items`. A few pure builtins are evaluated because later
//     opcodes depend on them: collections.OrderedDict() and dict() give an empty kDict,
//     _codecs.encode(text, "latin1") (how Python 3 pickles bytes at protocol 2) gives kBytes,
//     bytes() gives an empty kBytes, set(list) / frozenset(list) give kSet;
//   - BINPERSID / PERSID -> kPersistentId with `args` = the pid object (torch storage references).
// Not supported (kBadCheckpoint naming the opcode): protocol 0/1-only opcodes STRING, UNICODE, INST,
// OBJ, extension registry EXT1/2/4, and NEXT_BUFFER (out-of-band buffers, which pickle.dumps without a
// buffer_callback never emits; in-band protocol 5 data uses BYTEARRAY8 and is supported).
//
// Robustness: every read is bounds-checked; stack pops respect MARK boundaries; the number of nodes,
// stack entries and memo entries is capped (kMaxNodes, ...) so a hostile file cannot make huge
// allocations; errors are maskrt::Error(kBadCheckpoint) naming the opcode and offset. Cyclic or deeply
// nested graphs (possible through the memo) are safe: the Unpickler owns every node it creates and,
// when destroyed, unlinks them iteratively, so nothing recurses or leaks.
//
// Thread safety: one Unpickler per thread; the pickle buffer must stay alive and unchanged while the
// Unpickler and its nodes are used. Nodes are only meaningful while their Unpickler is alive.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace maskrt::pickle {

enum class Kind : uint8_t {
  kNone, kBool, kInt, kFloat, kStr, kBytes, kTuple, kList, kDict, kSet, kGlobal, kObject, kPersistentId,
};
const char* kind_name(Kind k);

struct Node;
using Ref = std::shared_ptr<Node>;

struct Node {
  Kind kind = Kind::kNone;
  bool unicode = false;   // kStr: true for Python 3 str / Python 2 unicode (UTF-8 bytes)
  bool big_int = false;   // kInt: the value does not fit int64 (ival is then 0)
  int64_t ival = 0;       // kBool, kInt
  double fval = 0;        // kFloat
  const uint8_t* data = nullptr;  // kStr, kBytes: the raw bytes (into the pickle buffer or `owned`)
  size_t size = 0;
  std::shared_ptr<const std::string> owned;
  std::vector<Ref> items;  // kTuple/kList/kSet elements; kDict k0,v0,k1,v1,...; kObject set/append items
  std::string module, name;  // kGlobal
  Ref callable, args, state;  // kObject (args: a kTuple); kPersistentId: args = the pid

  std::string_view bytes() const { return {reinterpret_cast<const char*>(data), size}; }
  bool is_str(std::string_view s) const { return kind == Kind::kStr && bytes() == s; }
  bool is_global(std::string_view mod, std::string_view nm) const {
    return kind == Kind::kGlobal && module == mod && name == nm;
  }
  size_t dict_size() const { return items.size() / 2; }
};

// Value of `key` in a kDict (the last duplicate wins), or nullptr.
const Node* dict_get(const Node& dict, std::string_view key);
// "module.name" of a kGlobal, or of an object's callable; "<kind>" otherwise. For messages.
std::string describe(const Node& n);
// Decodes UTF-8 text whose code points are all < 256 into one byte per code point (Python's
// text.encode("latin1")). Throws kBadCheckpoint otherwise.
std::string utf8_to_latin1(std::string_view utf8);

class Unpickler {
 public:
  static constexpr size_t kMaxNodes = size_t{1} << 21;
  static constexpr size_t kMaxStack = size_t{1} << 20;
  static constexpr size_t kMaxMemo = size_t{1} << 21;

  Unpickler(const uint8_t* data, size_t size);
  ~Unpickler();
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  // Runs the pickle up to STOP and returns the result. Throws maskrt::Error(kBadCheckpoint).
  Ref load();
  // Offset just past the STOP opcode (after load()).
  size_t position() const { return pos_; }

 private:
  Ref make(Kind k);
  Ref pop();
  Ref& top();
  std::vector<Ref> pop_mark();
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(Ref r);
  const uint8_t* take(size_t n);
  std::string_view line();
  Ref make_bytes(Kind k, size_t n, bool unicode);
  Ref make_int(const uint8_t* p, size_t n);
  Ref make_tuple(std::vector<Ref> items);
  Ref call(Ref callable, Ref args);
  void memo_put(uint64_t idx);
  Ref memo_get(uint64_t idx);
  [[noreturn]] void fail(const std::string& what) const;

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  uint8_t op_ = 0;
  std::vector<Ref> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Ref> memo_;
  std::vector<Ref> all_;  // every node created, for iterative teardown
};

}  // namespace maskrt::pickle
