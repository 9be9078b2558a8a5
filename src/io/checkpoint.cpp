#include "io/checkpoint.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "io/pickle.h"
#include "io/zip_reader.h"

namespace maskrt {
namespace {

using pickle::Kind;
using pickle::Node;

// ---- element types and bulk conversion ---------------------------------------------------------

enum class DType { kF32, kF64, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

size_t itemsize(DType t) {
  switch (t) {
    case DType::kF64: case DType::kI64: return 8;
    case DType::kF32: case DType::kI32: return 4;
    case DType::kF16: case DType::kBF16: case DType::kI16: return 2;
    default: return 1;
  }
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "float32";
    case DType::kF64: return "float64";
    case DType::kF16: return "float16";
    case DType::kBF16: return "bfloat16";
    case DType::kI64: return "int64";
    case DType::kI32: return "int32";
    case DType::kI16: return "int16";
    case DType::kI8: return "int8";
    case DType::kU8: return "uint8";
    case DType::kBool: return "bool";
  }
  return "?";
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf / nan
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400) == 0);
    bits = sign | (static_cast<uint32_t>(112 - e) << 23) | ((mant & 0x3FF) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <typename U>
U load_raw(const uint8_t* p, bool swap) {
  U v;
  std::memcpy(&v, p, sizeof(U));
  if (swap) {
    if constexpr (sizeof(U) == 2) v = static_cast<U>(__builtin_bswap16(v));
    if constexpr (sizeof(U) == 4) v = static_cast<U>(__builtin_bswap32(v));
    if constexpr (sizeof(U) == 8) v = static_cast<U>(__builtin_bswap64(v));
  }
  return v;
}

// Converts n elements starting at src, `stride` elements apart, into dst (contiguous float32).
void convert_run(const uint8_t* src, DType t, bool swap, int64_t n, int64_t stride, float* dst) {
  const size_t isz = itemsize(t);
  const size_t step = static_cast<size_t>(stride) * isz;
  if (t == DType::kF32 && !swap && stride == 1) {
    std::memcpy(dst, src, static_cast<size_t>(n) * 4);
    return;
  }
#if defined(__F16C__)
  if (t == DType::kF16 && !swap && stride == 1) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i));
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; ++i) dst[i] = half_to_float(load_raw<uint16_t>(src + 2 * i, false));
    return;
  }
#endif
  auto loop = [&](auto fn) {
    const uint8_t* p = src;
    for (int64_t i = 0; i < n; ++i, p += step) dst[i] = fn(p);
  };
  switch (t) {
    case DType::kF32: loop([&](const uint8_t* p) { uint32_t u = load_raw<uint32_t>(p, swap); float f; std::memcpy(&f, &u, 4); return f; }); break;
    case DType::kF64: loop([&](const uint8_t* p) { uint64_t u = load_raw<uint64_t>(p, swap); double d; std::memcpy(&d, &u, 8); return static_cast<float>(d); }); break;
    case DType::kF16: loop([&](const uint8_t* p) { return half_to_float(load_raw<uint16_t>(p, swap)); }); break;
    case DType::kBF16: loop([&](const uint8_t* p) { uint32_t u = uint32_t{load_raw<uint16_t>(p, swap)} << 16; float f; std::memcpy(&f, &u, 4); return f; }); break;
    case DType::kI64: loop([&](const uint8_t* p) { return static_cast<float>(static_cast<int64_t>(load_raw<uint64_t>(p, swap))); }); break;
    case DType::kI32: loop([&](const uint8_t* p) { return static_cast<float>(static_cast<int32_t>(load_raw<uint32_t>(p, swap))); }); break;
    case DType::kI16: loop([&](const uint8_t* p) { return static_cast<float>(static_cast<int16_t>(load_raw<uint16_t>(p, swap))); }); break;
    case DType::kI8: loop([&](const uint8_t* p) { return static_cast<float>(static_cast<int8_t>(*p)); }); break;
    case DType::kU8: loop([&](const uint8_t* p) { return static_cast<float>(*p); }); break;
    case DType::kBool: loop([&](const uint8_t* p) { return *p ? 1.0f : 0.0f; }); break;
  }
}

// A typed, strided view of raw bytes (numpy array or torch storage), not yet converted.
struct RawView {
  const uint8_t* data = nullptr;
  uint64_t avail = 0;           // elements addressable from `data`
  DType dtype = DType::kF32;
  bool swap = false;            // bytes are in the non-native (big-endian) order
  Shape shape;
  std::vector<int64_t> strides;  // in elements
  int64_t offset = 0;            // in elements
};

constexpr int64_t kMaxDim = int64_t{1} << 40;

struct Loader {
  size_t budget_elems;  // remaining float32 outputs this load may allocate
  std::string byteorder = "little";
  const ZipReader* zip = nullptr;
  std::string prefix;  // "<archive>/" inside the zip
  std::map<std::string, ByteView> storages;

  Tensor materialize(const RawView& v, const std::string& key) {
    int64_t numel = 1;
    for (int64_t d : v.shape) {
      MASKRT_CHECK(d >= 0 && d <= kMaxDim, ErrorCode::kBadCheckpoint, "tensor '", key, "': bad dimension ", d);
      MASKRT_CHECK(!__builtin_mul_overflow(numel, d, &numel) && numel <= kMaxDim, ErrorCode::kBadCheckpoint,
                   "tensor '", key, "': shape ", shape_str(v.shape), " is too large");
    }
    MASKRT_ASSERT(v.strides.size() == v.shape.size());
    if (numel > 0) {
      // Highest element index touched must lie inside the storage.
      int64_t hi = v.offset;
      MASKRT_CHECK(v.offset >= 0, ErrorCode::kBadCheckpoint, "tensor '", key, "': negative storage offset");
      for (size_t i = 0; i < v.shape.size(); ++i) {
        MASKRT_CHECK(v.strides[i] >= 0 && v.strides[i] <= kMaxDim, ErrorCode::kBadCheckpoint, "tensor '", key,
                     "': unsupported stride ", v.strides[i]);
        int64_t span;
        MASKRT_CHECK(!__builtin_mul_overflow(v.shape[i] - 1, v.strides[i], &span) && !__builtin_add_overflow(hi, span, &hi),
                     ErrorCode::kBadCheckpoint, "tensor '", key, "': stride overflow");
      }
      MASKRT_CHECK(static_cast<uint64_t>(hi) < v.avail, ErrorCode::kBadCheckpoint, "tensor '", key, "' with shape ",
                   shape_str(v.shape), " needs element ", hi, " but its storage holds ", v.avail, " elements");
    }
    MASKRT_CHECK(static_cast<uint64_t>(numel) <= budget_elems, ErrorCode::kBadCheckpoint, "tensor '", key, "' with shape ",
                 shape_str(v.shape), " is implausibly large for the file");
    budget_elems -= static_cast<size_t>(numel);
    Tensor out = Tensor::empty(v.shape);
    if (numel == 0) return out;
    const size_t isz = itemsize(v.dtype);
    const int nd = static_cast<int>(v.shape.size());
    // Merge the trailing dims that are C-contiguous into one run (a plain tensor becomes one memcpy).
    int64_t run = 1, run_stride = 1;
    int inner = nd;  // dims [inner, nd) form the run
    if (nd > 0) {
      run = v.shape[nd - 1];
      run_stride = v.strides[nd - 1];
      inner = nd - 1;
      while (inner > 0 && (v.shape[inner - 1] == 1 || v.strides[inner - 1] == run * run_stride)) {
        run *= v.shape[inner - 1];
        --inner;
      }
    }
    const int64_t runs = numel / run;
    std::vector<int64_t> idx(static_cast<size_t>(inner), 0);
    int64_t src = v.offset;
    float* dst = out.data();
    for (int64_t r = 0; r < runs; ++r) {
      convert_run(v.data + static_cast<size_t>(src) * isz, v.dtype, v.swap, run, run_stride, dst);
      dst += run;
      for (int d = inner - 1; d >= 0; --d) {  // odometer over the outer dims
        src += v.strides[d];
        if (++idx[d] < v.shape[d]) break;
        src -= v.strides[d] * v.shape[d];
        idx[d] = 0;
      }
    }
    return out;
  }

  // ---- numpy ------------------------------------------------------------------------------------

  static bool is_numpy_fn(const Node& g, const char* sub, const char* name) {
    // numpy 1.x: numpy.core.<sub>; numpy 2.x: numpy._core.<sub>
    return g.kind == Kind::kGlobal && g.name == name &&
           (g.module == std::string("numpy.core.") + sub || g.module == std::string("numpy._core.") + sub);
  }

  // numpy.dtype(kind_size, align, copy) + BUILD state (version, byteorder, ...).
  static std::pair<DType, bool> numpy_dtype(const Node& n, const std::string& key) {
    MASKRT_CHECK(n.kind == Kind::kObject && n.callable->is_global("numpy", "dtype") && !n.args->items.empty() &&
                     n.args->items[0]->kind == Kind::kStr,
                 ErrorCode::kBadCheckpoint, "array '", key, "': dtype is a ", pickle::describe(n), ", not numpy.dtype");
    std::string s(n.args->items[0]->bytes());
    char order = '|';
    if (!s.empty() && (s[0] == '<' || s[0] == '>' || s[0] == '|' || s[0] == '=')) {
      order = s[0];
      s.erase(0, 1);
    }
    if (n.state && n.state->kind == Kind::kTuple && n.state->items.size() >= 2 && n.state->items[1]->kind == Kind::kStr &&
        n.state->items[1]->size == 1)
      order = static_cast<char>(n.state->items[1]->data[0]);
    static const std::pair<const char*, DType> kMap[] = {
        {"f4", DType::kF32}, {"f8", DType::kF64}, {"f2", DType::kF16}, {"i8", DType::kI64}, {"i4", DType::kI32},
        {"i2", DType::kI16}, {"i1", DType::kI8},  {"u1", DType::kU8},  {"b1", DType::kBool}};
    for (const auto& [name, t] : kMap)
      if (s == name) return {t, order == '>'};
    MASKRT_FAIL(ErrorCode::kBadCheckpoint, "array '", key, "': unsupported numpy dtype '", s, "'");
  }

  static std::pair<const uint8_t*, size_t> array_bytes(const Node& n, std::string& scratch, const std::string& key) {
    if (n.kind == Kind::kBytes || (n.kind == Kind::kStr && !n.unicode)) return {n.data, n.size};
    if (n.kind == Kind::kStr) {  // text holding latin-1 code points (Python 3 str of a py2 pickle)
      scratch = pickle::utf8_to_latin1(n.bytes());
      return {reinterpret_cast<const uint8_t*>(scratch.data()), scratch.size()};
    }
    MASKRT_FAIL(ErrorCode::kBadCheckpoint, "array '", key, "': data is a ", pickle::describe(n),
                " (object arrays are not supported)");
  }

  static Shape int_tuple(const Node& n, const std::string& key, const char* what) {
    MASKRT_CHECK(n.kind == Kind::kTuple || n.kind == Kind::kList, ErrorCode::kBadCheckpoint, "'", key, "': ", what,
                 " is a ", pickle::describe(n), ", not a tuple");
    Shape s;
    for (const auto& d : n.items) {
      MASKRT_CHECK(d->kind == Kind::kInt && !d->big_int, ErrorCode::kBadCheckpoint, "'", key, "': ", what,
                   " holds a ", pickle::describe(*d), ", not an int");
      s.push_back(d->ival);
    }
    return s;
  }

  static int64_t as_int(const Node& n, const std::string& key, const char* what) {
    MASKRT_CHECK((n.kind == Kind::kInt || n.kind == Kind::kBool) && !n.big_int, ErrorCode::kBadCheckpoint, "'", key,
                 "': ", what, " is a ", pickle::describe(n), ", not an int");
    return n.ival;
  }

  // Strides (in elements) of a dense array in C or Fortran order.
  static std::vector<int64_t> dense_strides(const Shape& shape, bool fortran) {
    std::vector<int64_t> st(shape.size());
    int64_t s = 1;
    if (fortran) {
      for (size_t i = 0; i < shape.size(); ++i) { st[i] = s; s *= std::max<int64_t>(shape[i], 1); }
    } else {
      for (size_t i = shape.size(); i-- > 0;) { st[i] = s; s *= std::max<int64_t>(shape[i], 1); }
    }
    return st;
  }

  CheckpointTensor numpy_array(const RawView& base_in, const Node& data, bool fortran, const std::string& key) {
    RawView v = base_in;
    std::string scratch;
    auto [p, nbytes] = array_bytes(data, scratch, key);
    int64_t numel = 1;
    for (int64_t d : v.shape) {
      MASKRT_CHECK(d >= 0 && d <= kMaxDim && !__builtin_mul_overflow(numel, d, &numel), ErrorCode::kBadCheckpoint,
                   "array '", key, "': bad shape ", shape_str(v.shape));
    }
    const size_t isz = itemsize(v.dtype);
    MASKRT_CHECK(static_cast<uint64_t>(numel) <= kMaxDim && static_cast<uint64_t>(numel) * isz == nbytes,
                 ErrorCode::kBadCheckpoint, "array '", key, "' with shape ", shape_str(v.shape), " and dtype ",
                 dtype_name(v.dtype), " needs ", numel, " x ", isz, " bytes but has ", nbytes);
    v.data = p;
    v.avail = nbytes / isz;
    v.strides = dense_strides(v.shape, fortran);
    return {materialize(v, key), dtype_name(v.dtype)};
  }

  // numpy.core.multiarray._reconstruct(ndarray, (0,), b'b') + BUILD (version, shape, dtype, fortran, data)
  CheckpointTensor from_reconstruct(const Node& n, const std::string& key) {
    MASKRT_CHECK(n.state && n.state->kind == Kind::kTuple, ErrorCode::kBadCheckpoint, "array '", key,
                 "': numpy array without its BUILD state");
    const auto& st = n.state->items;
    MASKRT_CHECK(st.size() == 5 || st.size() == 4, ErrorCode::kBadCheckpoint, "array '", key, "': numpy state has ",
                 st.size(), " fields, expected 4 or 5");
    const size_t o = st.size() == 5 ? 1 : 0;
    RawView v;
    v.shape = int_tuple(*st[o], key, "shape");
    auto [t, swap] = numpy_dtype(*st[o + 1], key);
    v.dtype = t;
    v.swap = swap;
    bool fortran = as_int(*st[o + 2], key, "is_fortran") != 0;
    return numpy_array(v, *st[o + 3], fortran, key);
  }

  // protocol 5: numpy.core.numeric._frombuffer(buffer, dtype, shape, order)
  CheckpointTensor from_frombuffer(const Node& n, const std::string& key) {
    const auto& a = n.args->items;
    MASKRT_CHECK(a.size() == 4 && a[3]->kind == Kind::kStr, ErrorCode::kBadCheckpoint, "array '", key,
                 "': malformed _frombuffer arguments");
    RawView v;
    auto [t, swap] = numpy_dtype(*a[1], key);
    v.dtype = t;
    v.swap = swap;
    v.shape = int_tuple(*a[2], key, "shape");
    return numpy_array(v, *a[0], a[3]->bytes() == "F", key);
  }

  // numpy scalar: numpy.core.multiarray.scalar(dtype, bytes) -> a 0-d tensor
  CheckpointTensor from_scalar(const Node& n, const std::string& key) {
    const auto& a = n.args->items;
    MASKRT_CHECK(a.size() == 2, ErrorCode::kBadCheckpoint, "scalar '", key, "': malformed arguments");
    RawView v;
    auto [t, swap] = numpy_dtype(*a[0], key);
    v.dtype = t;
    v.swap = swap;
    return numpy_array(v, *a[1], false, key);
  }

  // ---- torch ------------------------------------------------------------------------------------

  static bool torch_storage_dtype(const std::string& name, DType& t) {
    static const std::pair<const char*, DType> kMap[] = {
        {"FloatStorage", DType::kF32}, {"DoubleStorage", DType::kF64}, {"HalfStorage", DType::kF16},
        {"BFloat16Storage", DType::kBF16}, {"LongStorage", DType::kI64}, {"IntStorage", DType::kI32},
        {"ShortStorage", DType::kI16}, {"CharStorage", DType::kI8}, {"ByteStorage", DType::kU8},
        {"BoolStorage", DType::kBool}};
    for (const auto& [n, d] : kMap)
      if (name == n) { t = d; return true; }
    return false;
  }

  // torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, metadata])
  CheckpointTensor from_rebuild_tensor(const Node& n, const std::string& key) {
    const auto& a = n.args->items;
    MASKRT_CHECK(a.size() >= 4, ErrorCode::kBadCheckpoint, "tensor '", key, "': _rebuild_tensor has ", a.size(), " arguments");
    const Node& pid_node = *a[0];
    MASKRT_CHECK(pid_node.kind == Kind::kPersistentId && pid_node.args && pid_node.args->kind == Kind::kTuple,
                 ErrorCode::kBadCheckpoint, "tensor '", key, "': storage is a ", pickle::describe(pid_node),
                 ", not a persistent storage reference");
    const auto& pid = pid_node.args->items;
    MASKRT_CHECK(pid.size() >= 5 && pid[0]->is_str("storage") && pid[1]->kind == Kind::kGlobal && pid[2]->kind == Kind::kStr,
                 ErrorCode::kBadCheckpoint, "tensor '", key, "': malformed storage reference");
    RawView v;
    MASKRT_CHECK(pid[1]->module == "torch" && torch_storage_dtype(pid[1]->name, v.dtype), ErrorCode::kBadCheckpoint,
                 "tensor '", key, "': unsupported storage type ", pickle::describe(*pid[1]));
    const std::string skey(pid[2]->bytes());
    const int64_t storage_numel = as_int(*pid[4], key, "storage numel");
    MASKRT_CHECK(zip != nullptr, ErrorCode::kBadCheckpoint, "tensor '", key,
                 "' references an external storage, but the file is not a torch.save zip archive");
    auto it = storages.find(skey);
    if (it == storages.end()) {
      const ZipEntry* e = zip->find(prefix + "data/" + skey);
      MASKRT_CHECK(e != nullptr, ErrorCode::kBadCheckpoint, "tensor '", key, "': storage record '", prefix, "data/",
                   skey, "' is missing from the archive");
      it = storages.emplace(skey, zip->read(*e)).first;
    }
    const ByteView& bytes = it->second;
    const size_t isz = itemsize(v.dtype);
    MASKRT_CHECK(storage_numel >= 0 && static_cast<uint64_t>(storage_numel) <= bytes.size / isz, ErrorCode::kBadCheckpoint,
                 "tensor '", key, "': storage '", skey, "' should hold ", storage_numel, " ", dtype_name(v.dtype),
                 " elements but has ", bytes.size, " bytes");
    v.data = bytes.data;
    v.avail = static_cast<uint64_t>(storage_numel);
    v.swap = byteorder == "big";
    v.offset = as_int(*a[1], key, "storage offset");
    v.shape = int_tuple(*a[2], key, "size");
    v.strides = int_tuple(*a[3], key, "stride");
    MASKRT_CHECK(v.strides.size() == v.shape.size(), ErrorCode::kBadCheckpoint, "tensor '", key, "': size ",
                 shape_str(v.shape), " and stride ", shape_str(v.strides), " differ in rank");
    return {materialize(v, key), dtype_name(v.dtype)};
  }

  // ---- dispatch ---------------------------------------------------------------------------------

  // True (and fills `out`) if `n` is an array/tensor; false for plain non-tensor values. Throws for
  // objects of unknown classes.
  bool tensor_value(const Node& n, const std::string& key, CheckpointTensor& out, int depth = 0) {
    if (n.kind != Kind::kObject) return false;
    const Node& fn = *n.callable;
    if (fn.kind == Kind::kGlobal) {
      if (is_numpy_fn(fn, "multiarray", "_reconstruct")) { out = from_reconstruct(n, key); return true; }
      if (is_numpy_fn(fn, "numeric", "_frombuffer")) { out = from_frombuffer(n, key); return true; }
      if (is_numpy_fn(fn, "multiarray", "scalar")) { out = from_scalar(n, key); return true; }
      if (fn.module == "torch._utils" && (fn.name == "_rebuild_tensor_v2" || fn.name == "_rebuild_tensor")) {
        out = from_rebuild_tensor(n, key);
        return true;
      }
      if (depth < 4 && fn.module == "torch._utils" &&
          (fn.name == "_rebuild_parameter" || fn.name == "_rebuild_parameter_with_state")) {
        // nn.Parameter(data, requires_grad, ...): the tensor is the first argument.
        MASKRT_CHECK(!n.args->items.empty(), ErrorCode::kBadCheckpoint, "tensor '", key, "': empty _rebuild_parameter");
        if (tensor_value(*n.args->items[0], key, out, depth + 1)) return true;
      }
      if (depth < 4 && fn.module == "torch._tensor" && fn.name == "_rebuild_from_type_v2") {
        // (func, type, args, state): the tensor is func(*args).
        const auto& a = n.args->items;
        if (a.size() >= 3 && a[2]->kind == Kind::kTuple) {
          Node call;
          call.kind = Kind::kObject;
          call.callable = a[0];
          call.args = a[2];
          if (tensor_value(call, key, out, depth + 1)) return true;
        }
      }
    }
    MASKRT_FAIL(ErrorCode::kBadCheckpoint, "entry '", key, "' is an unsupported ", pickle::describe(n));
  }

  std::map<std::string, CheckpointTensor> state_dict(const Node& root) {
    MASKRT_CHECK(root.kind == Kind::kDict, ErrorCode::kBadCheckpoint, "top-level object is a ", pickle::describe(root),
                 ", expected a dict");
    const Node* sd = &root;
    if (const Node* model = pickle::dict_get(root, "model")) {
      MASKRT_CHECK(model->kind == Kind::kDict, ErrorCode::kBadCheckpoint, "'model' is a ", pickle::describe(*model),
                   ", expected a dict of tensors (a pickled nn.Module is not supported: save its state_dict())");
      sd = model;
    }
    std::map<std::string, CheckpointTensor> out;
    for (size_t i = 0; i + 1 < sd->items.size(); i += 2) {
      const Node& k = *sd->items[i];
      if (k.kind != Kind::kStr) continue;  // e.g. integer keys of optimizer state in a bare dict
      const std::string key(k.bytes());
      CheckpointTensor t;
      if (tensor_value(*sd->items[i + 1], key, t)) out.insert_or_assign(key, std::move(t));
    }
    if (out.empty()) {
      MASKRT_CHECK(!pickle::dict_get(*sd, "blobs"), ErrorCode::kBadCheckpoint,
                   "Caffe2/Detectron1 checkpoint ('blobs'): convert it to Detectron2 names first");
      MASKRT_FAIL(ErrorCode::kBadCheckpoint, "no tensors found");
    }
    return out;
  }
};

// torch.save before 1.6: a pickle of the magic number 0x1950a86a20f9469cfc6c, then more pickles.
constexpr uint8_t kLegacyTorchMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

std::map<std::string, CheckpointTensor> load(const uint8_t* data, size_t size) {
  MASKRT_CHECK(size > 0, ErrorCode::kBadCheckpoint, "file is empty");
  Loader loader;
  loader.budget_elems = 2 * size + (size_t{16} << 20);  // 8x the file size in bytes, + 64 MiB
  if (size >= 4 && std::memcmp(data, "PK", 2) == 0) {
    ZipReader zip(data, size);
    // Deflated entries can hold more than the file's size: budget by the declared uncompressed sizes
    // (the zip reader already rejects impossible compression ratios).
    uint64_t uncompressed = 0;
    for (const ZipEntry& e : zip.entries()) uncompressed += e.uncompressed_size;
    loader.budget_elems = std::max<size_t>(loader.budget_elems, 2 * static_cast<size_t>(uncompressed) + (size_t{16} << 20));
    const ZipEntry* pkl = nullptr;
    for (const ZipEntry& e : zip.entries()) {
      const size_t slash = e.name.find('/');
      if (slash != std::string::npos && e.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
        pkl = &e;
        loader.prefix = e.name.substr(0, slash + 1);
        break;
      }
    }
    MASKRT_CHECK(pkl != nullptr, ErrorCode::kBadCheckpoint, "zip archive has no '<name>/data.pkl' entry: not a torch.save file");
    if (const ZipEntry* bo = zip.find(loader.prefix + "byteorder")) {
      ByteView b = zip.read(*bo);
      loader.byteorder.assign(reinterpret_cast<const char*>(b.data), b.size);
      MASKRT_CHECK(loader.byteorder == "little" || loader.byteorder == "big", ErrorCode::kBadCheckpoint,
                   "unknown byteorder record '", loader.byteorder, "'");
    }
    loader.zip = &zip;
    ByteView pkl_bytes = zip.read(*pkl);
    pickle::Unpickler up(pkl_bytes.data, pkl_bytes.size);
    pickle::Ref root = up.load();
    return loader.state_dict(*root);
  }
  MASKRT_CHECK(size < sizeof kLegacyTorchMagic || std::memcmp(data, kLegacyTorchMagic, sizeof kLegacyTorchMagic) != 0,
               ErrorCode::kBadCheckpoint, "legacy torch.save format; re-save with torch>=1.6");
  MASKRT_CHECK(data[0] == 0x80, ErrorCode::kBadCheckpoint,
               "unrecognized format: expected a zip archive (torch.save) or a pickle of protocol >= 2 (.pkl)");
  pickle::Unpickler up(data, size);
  pickle::Ref root = up.load();
  return loader.state_dict(*root);
}

}  // namespace

std::map<std::string, CheckpointTensor> load_checkpoint_from_memory(const uint8_t* data, size_t size,
                                                                    const std::string& name) {
  try {
    return load(data, size);
  } catch (const Error& e) {
    throw Error(e.code(), "checkpoint '" + name + "': " + e.what());
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kOutOfMemory, "checkpoint '" + name + "': out of host memory while loading");
  }
}

std::map<std::string, CheckpointTensor> load_checkpoint(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  MASKRT_CHECK(f != nullptr, ErrorCode::kIo, "checkpoint '", path, "': cannot open: ", std::strerror(errno));
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> guard(f, &std::fclose);
  struct stat st;
  MASKRT_CHECK(fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode), ErrorCode::kIo, "checkpoint '", path,
               "': not a regular file");
  const long long size = static_cast<long long>(st.st_size);
  std::unique_ptr<uint8_t[]> buf;
  try {
    buf.reset(new uint8_t[static_cast<size_t>(size) + 1]);
  } catch (const std::bad_alloc&) {
    MASKRT_FAIL(ErrorCode::kOutOfMemory, "checkpoint '", path, "': cannot allocate ", size, " bytes to read it");
  }
  const size_t got = size ? std::fread(buf.get(), 1, static_cast<size_t>(size), f) : 0;
  MASKRT_CHECK(got == static_cast<size_t>(size) && !std::ferror(f), ErrorCode::kIo, "checkpoint '", path,
               "': read failed after ", got, " of ", size, " bytes");
  return load_checkpoint_from_memory(buf.get(), static_cast<size_t>(size), path);
}

}  // namespace maskrt
