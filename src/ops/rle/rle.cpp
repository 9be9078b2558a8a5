// COCO RLE (see rle.h). Written from the format description of pycocotools' maskApi.c.
#include "ops/rle/rle.h"

#include <algorithm>

#include "core/check.h"

namespace maskrt {

std::string RleMask::to_coco_string() const { return ops::rle_to_string(counts); }

int64_t RleMask::area() const {
  int64_t a = 0;
  for (size_t i = 1; i < counts.size(); i += 2) a += counts[i];
  return a;
}

namespace ops {
namespace {

// Appends runs to a count list; consecutive runs of the same value merge.
class RunBuilder {
 public:
  void add(uint8_t value, int64_t length) {
    if (length <= 0) return;
    if (value != current_) {
      counts_.push_back(static_cast<uint32_t>(run_));
      run_ = 0;
      current_ = value;
    }
    run_ += length;
  }
  void reserve(size_t n) { counts_.reserve(n); }
  std::vector<uint32_t> finish() {
    counts_.push_back(static_cast<uint32_t>(run_));  // the last run is always emitted (may be 0)
    return std::move(counts_);
  }

 private:
  std::vector<uint32_t> counts_;
  uint8_t current_ = 0;  // first run counts 0s
  int64_t run_ = 0;
};

void check_size(int h, int w, const char* what) {
  MASKRT_CHECK(h >= 0 && w >= 0, ErrorCode::kInvalidArgument, what, ": negative mask size ", h, "x", w);
  MASKRT_CHECK(static_cast<int64_t>(h) * w <= int64_t{0xFFFFFFFF}, ErrorCode::kInvalidArgument, what,
               ": mask ", h, "x", w, " has more pixels than a 32-bit RLE count can hold");
}

}  // namespace

RleMask rle_encode_dense(const uint8_t* mask, int h, int w) {
  check_size(h, w, "rle_encode_dense");
  RunBuilder runs;
  for (int x = 0; x < w; ++x)
    for (int y = 0; y < h; ++y) runs.add(mask[static_cast<int64_t>(y) * w + x] ? 1 : 0, 1);
  RleMask r;
  r.height = h;
  r.width = w;
  r.counts = runs.finish();
  return r;
}

RleMask rle_encode(const MaskRegion& g) {
  check_size(g.img_h, g.img_w, "rle_encode");
  MASKRT_CHECK(g.w >= 0 && g.h >= 0 && g.x0 >= 0 && g.y0 >= 0 && int64_t{g.x0} + g.w <= g.img_w &&
                   int64_t{g.y0} + g.h <= g.img_h,
               ErrorCode::kInvalidArgument, "rle_encode: region x0=", g.x0, " y0=", g.y0, " w=", g.w, " h=", g.h,
               " does not lie inside the ", g.img_w, "x", g.img_h, " image");
  MASKRT_CHECK(static_cast<int64_t>(g.bits.size()) == int64_t{g.w} * g.h, ErrorCode::kInvalidArgument,
               "rle_encode: region has ", g.bits.size(), " bits, expected w*h = ", int64_t{g.w} * g.h);
  RunBuilder runs;
  const int64_t H = g.img_h;
  if (g.w == 0 || g.h == 0) {
    runs.add(0, H * g.img_w);
  } else {
    runs.add(0, H * g.x0);  // whole columns left of the region
    for (int x = 0; x < g.w; ++x) {
      runs.add(0, g.y0);
      for (int y = 0; y < g.h; ++y) runs.add(g.bits[static_cast<size_t>(y) * g.w + x] ? 1 : 0, 1);
      runs.add(0, H - g.y0 - g.h);
    }
    runs.add(0, H * (g.img_w - g.x0 - g.w));  // whole columns right of the region
  }
  RleMask r;
  r.height = g.img_h;
  r.width = g.img_w;
  r.counts = runs.finish();
  return r;
}

RleMask rle_encode_packed(const uint32_t* words, int x0, int y0, int w, int h, int img_h, int img_w) {
  check_size(img_h, img_w, "rle_encode_packed");
  MASKRT_CHECK(w >= 0 && h >= 0 && x0 >= 0 && y0 >= 0 && int64_t{x0} + w <= img_w && int64_t{y0} + h <= img_h,
               ErrorCode::kInvalidArgument, "rle_encode_packed: region x0=", x0, " y0=", y0, " w=", w, " h=", h,
               " does not lie inside the ", img_w, "x", img_h, " image");
  RunBuilder runs;
  const int64_t H = img_h;
  if (w == 0 || h == 0) {
    runs.add(0, H * img_w);
  } else {
    MASKRT_CHECK(words != nullptr, ErrorCode::kInvalidArgument, "rle_encode_packed: words is null for a ", w, "x",
                 h, " region");
    const int wpc = (h + 31) / 32;  // words per column
    runs.reserve(2 * static_cast<size_t>(w) + 4);  // a convex shape: one run of ones per column
    runs.add(0, H * x0);           // whole columns left of the region
    for (int x = 0; x < w; ++x) {
      runs.add(0, y0);
      const uint32_t* col = words + static_cast<int64_t>(x) * wpc;
      // Runs from transitions: bit i of t is set where row 32k+i differs from the row above it (the
      // row above the region is 0), so a word inside a run costs one load and a test; each set bit
      // ends the current run.
      uint32_t cur = 0;       // value of the run in progress
      int64_t run_start = 0;  // its first row, relative to y0
      const int last_bits = h - 32 * (wpc - 1);  // valid bits in the column's last word (1..32)
      const uint32_t last_valid = last_bits == 32 ? 0xFFFFFFFFu : (uint32_t{1} << last_bits) - 1u;
      for (int k = 0; k < wpc; ++k) {
        const uint32_t valid = k + 1 < wpc ? 0xFFFFFFFFu : last_valid;
        const uint32_t bits = col[k] & valid;
        uint32_t t = (bits ^ ((bits << 1) | cur)) & valid;
        while (t) {
          const int64_t row = 32 * static_cast<int64_t>(k) + __builtin_ctz(t);
          runs.add(static_cast<uint8_t>(cur), row - run_start);
          run_start = row;
          cur ^= 1u;
          t &= t - 1;
        }
      }
      runs.add(static_cast<uint8_t>(cur), h - run_start);
      runs.add(0, H - y0 - h);
    }
    runs.add(0, H * (img_w - x0 - w));  // whole columns right of the region
  }
  RleMask r;
  r.height = img_h;
  r.width = img_w;
  r.counts = runs.finish();
  return r;
}

std::string rle_to_string(const std::vector<uint32_t>& counts) {
  std::string s;
  s.reserve(counts.size() * 2);
  for (size_t i = 0; i < counts.size(); ++i) {
    int64_t x = counts[i];
    if (i > 2) x -= counts[i - 2];
    for (;;) {
      int group = static_cast<int>(x & 0x1f);
      x >>= 5;  // arithmetic shift: x keeps its sign
      const bool more = (group & 0x10) ? x != -1 : x != 0;
      if (more) group |= 0x20;
      s.push_back(static_cast<char>(48 + group));
      if (!more) break;
    }
  }
  return s;
}

std::vector<uint32_t> rle_from_string(const std::string& s) {
  std::vector<uint32_t> counts;
  size_t p = 0;
  while (p < s.size()) {
    int64_t x = 0;
    int shift = 0;
    for (;;) {
      MASKRT_CHECK(p < s.size(), ErrorCode::kInvalidArgument, "rle_from_string: string ends inside a value (length ",
                   s.size(), ")");
      const int c = static_cast<unsigned char>(s[p]) - 48;
      MASKRT_CHECK(c >= 0 && c < 64, ErrorCode::kInvalidArgument, "rle_from_string: invalid char '", s[p],
                   "' at offset ", p);
      MASKRT_CHECK(shift <= 35, ErrorCode::kInvalidArgument, "rle_from_string: value at offset ", p,
                   " is too long");
      x |= static_cast<int64_t>(c & 0x1f) << shift;
      shift += 5;
      ++p;
      if (!(c & 0x20)) {
        if (c & 0x10) x -= int64_t{1} << shift;  // sign-extend
        break;
      }
    }
    if (counts.size() > 2) x += counts[counts.size() - 2];
    MASKRT_CHECK(x >= 0 && x <= int64_t{0xFFFFFFFF}, ErrorCode::kInvalidArgument, "rle_from_string: count ",
                 counts.size(), " decodes to ", x, ", outside [0, 2^32)");
    counts.push_back(static_cast<uint32_t>(x));
  }
  return counts;
}

std::vector<uint8_t> rle_decode(const RleMask& rle) {
  check_size(rle.height, rle.width, "rle_decode");
  const int64_t H = rle.height, W = rle.width, n = H * W;
  int64_t total = 0;
  for (uint32_t c : rle.counts) total += c;
  MASKRT_CHECK(total == n, ErrorCode::kInvalidArgument, "rle_decode: counts sum to ", total, " but the mask is ",
               rle.height, "x", rle.width, " = ", n, " pixels");
  std::vector<uint8_t> out(static_cast<size_t>(n), 0);
  int64_t pos = 0;  // column-major position
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    const int64_t end = pos + rle.counts[i];
    if (i & 1)
      for (int64_t k = pos; k < end; ++k) out[static_cast<size_t>((k % H) * W + k / H)] = 1;
    pos = end;
  }
  return out;
}

}  // namespace ops
}  // namespace maskrt
