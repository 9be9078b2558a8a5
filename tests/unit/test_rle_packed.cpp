// Bit-packed region RLE and the host side of the packed paste block (paste_mask_packed.h).
// Oracles: rle_encode_dense (the pycocotools-equal reference, itself checked against pycocotools in
// test_rle.cpp) of the full-image mask read bit by bit from the packing's definition; hand-derived
// counts; detector_postprocess (host paste_mask_cpu + rle_encode) for a block assembled here from
// paste_mask_ref regions, packed pixel by pixel.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "maskrt/errors.h"
#include "model/postprocessing.h"
#include "ops/paste_mask/paste_mask.h"
#include "ops/paste_mask/paste_mask_packed.h"
#include "ops/rle/rle.h"

using namespace maskrt;
using namespace maskrt::ops;

namespace {

int words_per_column(int h) { return (h + 31) / 32; }

// Full-image row-major 0/1 mask of a packed region, read from the format's definition.
std::vector<uint8_t> unpack_dense(const std::vector<uint32_t>& words, int x0, int y0, int w, int h, int img_h,
                                  int img_w) {
  std::vector<uint8_t> d(static_cast<size_t>(img_h) * img_w, 0);
  const int wpc = words_per_column(h);
  for (int x = 0; x < w; ++x)
    for (int y = 0; y < h; ++y)
      d[static_cast<size_t>(y0 + y) * img_w + x0 + x] = (words[static_cast<size_t>(x) * wpc + y / 32] >> (y % 32)) & 1u;
  return d;
}

enum class Fill { kRandom, kBlobs, kOnes, kZeros, kStripes };

// Packed words for a w x h region; `garbage` sets the unused high bits of each column's last word.
std::vector<uint32_t> make_words(std::mt19937& rng, int w, int h, Fill fill, bool garbage) {
  const int wpc = words_per_column(h);
  std::vector<uint32_t> words(static_cast<size_t>(w) * wpc, 0);
  std::bernoulli_distribution coin(0.5), rare(0.03);
  std::uniform_int_distribution<int> ux(0, std::max(0, w - 1)), uy(0, std::max(0, h - 1));
  int bx0 = ux(rng), bx1 = ux(rng), by0 = uy(rng), by1 = uy(rng);
  if (bx0 > bx1) std::swap(bx0, bx1);
  if (by0 > by1) std::swap(by0, by1);
  for (int x = 0; x < w; ++x)
    for (int y = 0; y < h; ++y) {
      bool v = false;
      switch (fill) {
        case Fill::kRandom: v = coin(rng); break;
        case Fill::kBlobs: v = (x >= bx0 && x <= bx1 && y >= by0 && y <= by1) != rare(rng); break;
        case Fill::kOnes: v = true; break;
        case Fill::kZeros: v = false; break;
        case Fill::kStripes: v = ((y / 3) + x) % 2 == 0; break;
      }
      if (v) words[static_cast<size_t>(x) * wpc + y / 32] |= 1u << (y % 32);
    }
  if (garbage && h % 32 != 0)
    for (int x = 0; x < w; ++x) words[static_cast<size_t>(x) * wpc + wpc - 1] |= ~((1u << (h % 32)) - 1u) & rng();
  return words;
}

}  // namespace

TEST(RlePacked, HandDerived) {
  // 3x3 image, region x0=1, y0=0, w=2, h=2: column 1 rows {0}, column 2 rows {0, 1}.
  // Column-major full image: col0 000 | col1 100 | col2 110 -> runs 3,1,2,2,1.
  const uint32_t words[] = {0b01u, 0b11u};
  const RleMask r = rle_encode_packed(words, 1, 0, 2, 2, 3, 3);
  EXPECT_EQ(r.height, 3);
  EXPECT_EQ(r.width, 3);
  EXPECT_EQ(r.counts, (std::vector<uint32_t>{3, 1, 2, 2, 1}));
  // All ones in a 1x1 image: {0, 1}; all zeros: {1}; empty region: all-zero image, words may be null.
  const uint32_t one = 1u, zero = 0u;
  EXPECT_EQ(rle_encode_packed(&one, 0, 0, 1, 1, 1, 1).counts, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(rle_encode_packed(&zero, 0, 0, 1, 1, 1, 1).counts, (std::vector<uint32_t>{1}));
  EXPECT_EQ(rle_encode_packed(nullptr, 2, 1, 0, 0, 4, 5).counts, (std::vector<uint32_t>{20}));
  // 33 rows: two words per column, bit 0 of the second word is row 32; high garbage bits ignored.
  const uint32_t two[] = {0x80000000u, 0xFFFFFFFFu};  // rows 31, 32 set
  EXPECT_EQ(rle_encode_packed(two, 0, 0, 1, 33, 33, 1).counts, (std::vector<uint32_t>{31, 2}));
}

TEST(RlePacked, RandomRegionsEqualDenseReference) {
  std::mt19937 rng(20240611);
  const int heights[] = {1, 2, 31, 32, 33, 63, 64, 65, 100, 127};
  const Fill fills[] = {Fill::kRandom, Fill::kBlobs, Fill::kOnes, Fill::kZeros, Fill::kStripes};
  int cases = 0;
  for (int t = 0; t < 600; ++t) {
    std::uniform_int_distribution<int> uh(0, 9), uw(1, 40);
    const int img_h = heights[uh(rng)] + (t % 3 == 0 ? std::uniform_int_distribution<int>(0, 20)(rng) : 0);
    const int img_w = uw(rng);
    // Region: anywhere inside, some touching each border, some the whole image, w = 1 / h = 1 often.
    int x0, y0, w, h;
    switch (t % 6) {
      case 0: x0 = 0; y0 = 0; w = img_w; h = img_h; break;
      case 1: w = 1; x0 = std::uniform_int_distribution<int>(0, img_w - 1)(rng); y0 = 0; h = img_h; break;
      case 2: h = 1; y0 = std::uniform_int_distribution<int>(0, img_h - 1)(rng); x0 = 0; w = img_w; break;
      default: {
        x0 = std::uniform_int_distribution<int>(0, img_w - 1)(rng);
        y0 = std::uniform_int_distribution<int>(0, img_h - 1)(rng);
        w = std::uniform_int_distribution<int>(1, img_w - x0)(rng);
        h = std::uniform_int_distribution<int>(1, img_h - y0)(rng);
        if (t % 5 == 0) w = img_w - x0;  // touches the right / bottom border
        if (t % 7 == 0) h = img_h - y0;
      }
    }
    const Fill fill = fills[t % 5];
    const auto words = make_words(rng, w, h, fill, t % 2 == 1);
    const auto dense = unpack_dense(words, x0, y0, w, h, img_h, img_w);
    const RleMask want = rle_encode_dense(dense.data(), img_h, img_w);
    const RleMask got = rle_encode_packed(words.data(), x0, y0, w, h, img_h, img_w);
    ASSERT_EQ(got.height, img_h);
    ASSERT_EQ(got.width, img_w);
    ASSERT_EQ(got.counts, want.counts) << "t=" << t << " image " << img_w << "x" << img_h << " region " << x0
                                       << "," << y0 << " " << w << "x" << h;
    // And equal to rle_encode of the same region in MaskRegion form.
    MaskRegion reg;
    reg.img_h = img_h;
    reg.img_w = img_w;
    reg.x0 = x0;
    reg.y0 = y0;
    reg.w = w;
    reg.h = h;
    reg.bits.resize(static_cast<size_t>(w) * h);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) reg.bits[static_cast<size_t>(y) * w + x] = dense[static_cast<size_t>(y0 + y) * img_w + x0 + x];
    ASSERT_EQ(rle_encode(reg).counts, want.counts);
    ++cases;
  }
  EXPECT_EQ(cases, 600);
}

TEST(RlePacked, Errors) {
  const uint32_t w1 = 1u;
  EXPECT_THROW(rle_encode_packed(&w1, 3, 0, 2, 1, 4, 4), Error);   // x0 + w > img_w
  EXPECT_THROW(rle_encode_packed(&w1, 0, 4, 1, 1, 4, 4), Error);   // y0 + h > img_h
  EXPECT_THROW(rle_encode_packed(&w1, -1, 0, 1, 1, 4, 4), Error);  // negative origin
  EXPECT_THROW(rle_encode_packed(nullptr, 0, 0, 1, 1, 4, 4), Error);
}

// ---- host side of the packed paste block -------------------------------------------------------

TEST(PastedBlock, LayoutAndValidation) {
  PasteMaskCudaParams p;
  p.capacity = 3;
  p.mask_size = 28;
  p.resized_h = 800;
  p.resized_w = 1067;
  p.orig_h = 480;
  p.orig_w = 640;
  p.threshold = 0.5f;
  p.words_capacity = 10;
  const PasteMaskBlockLayout l = paste_mask_block_layout(p);
  EXPECT_EQ(l.header, 0u);
  EXPECT_EQ(l.records, 16u);
  EXPECT_EQ(l.word_start, 16u + 128u);  // 3 * 40 = 120 -> 136, aligned to 144
  EXPECT_EQ(l.words, 144u + 16u);       // 3 * 4 = 12 -> 156, aligned to 160
  EXPECT_EQ(l.bytes, 160u + 48u);       // 40 bytes -> 200, aligned to 208
  EXPECT_EQ(paste_mask_default_words_capacity(480, 640), 4 * 640 * 15);
  EXPECT_EQ(paste_mask_default_words_capacity(1080, 1920), 261120);
  EXPECT_EQ(paste_mask_default_words_capacity(1, 1), 4);
  auto bad = p;
  bad.threshold = NAN;
  EXPECT_THROW(validate_paste_mask(bad), Error);
  bad = p;
  bad.capacity = 0;
  EXPECT_THROW(validate_paste_mask(bad), Error);
  bad = p;
  bad.capacity = kPasteMaskMaxDetections + 1;
  EXPECT_THROW(validate_paste_mask(bad), Error);
  bad = p;
  bad.words_capacity = -1;
  EXPECT_THROW(validate_paste_mask(bad), Error);
  bad = p;
  bad.orig_w = 0;
  EXPECT_THROW(validate_paste_mask(bad), Error);
}

namespace {
// The block the CUDA paste is specified to write (paste_mask_packed.h), assembled from the
// definition: rescale/clip/keep in the documented float order, paste_mask_ref regions packed pixel
// by pixel, greedy placement.
std::vector<uint32_t> assemble_block(const PasteMaskCudaParams& p, int count, const std::vector<float>& boxes,
                                     const std::vector<float>& masks) {
  const PasteMaskBlockLayout l = paste_mask_block_layout(p);
  std::vector<uint32_t> block((l.bytes + 3) / 4, 0xDEADBEEFu);  // unwritten parts hold garbage
  char* b = reinterpret_cast<char*>(block.data());
  const float sx = static_cast<float>(p.orig_w) / static_cast<float>(p.resized_w);
  const float sy = static_cast<float>(p.orig_h) / static_cast<float>(p.resized_h);
  const float fw = static_cast<float>(p.orig_w), fh = static_cast<float>(p.orig_h);
  auto clampf = [](float v, float lo, float hi) { return v < lo ? lo : (hi < v ? hi : v); };
  int kept = 0, unplaced = 0;
  int64_t used = 0;
  const int M = p.mask_size;
  for (int i = 0; i < count; ++i) {
    PasteMaskRecord r{};
    r.src = i;
    r.box[0] = clampf(boxes[4 * i] * sx, 0.f, fw);
    r.box[1] = clampf(boxes[4 * i + 1] * sy, 0.f, fh);
    r.box[2] = clampf(boxes[4 * i + 2] * sx, 0.f, fw);
    r.box[3] = clampf(boxes[4 * i + 3] * sy, 0.f, fh);
    if (!(r.box[2] - r.box[0] > 0.f && r.box[3] - r.box[1] > 0.f)) continue;
    const MaskRegion reg = paste_mask_ref(masks.data() + static_cast<size_t>(i) * M * M, M, r.box, p.orig_h,
                                          p.orig_w, p.threshold);
    r.x0 = reg.x0;
    r.y0 = reg.y0;
    r.w = reg.w;
    r.h = reg.h;
    const int wpc = words_per_column(reg.h);
    const int64_t nw = int64_t{reg.w} * wpc;
    reinterpret_cast<int32_t*>(b + l.word_start)[kept] = static_cast<int32_t>(used);
    if (used + nw <= p.words_capacity) {
      r.word_offset = static_cast<int32_t>(used);
      uint32_t* words = reinterpret_cast<uint32_t*>(b + l.words) + used;
      std::fill(words, words + nw, 0u);
      for (int y = 0; y < reg.h; ++y)
        for (int x = 0; x < reg.w; ++x)
          if (reg.bits[static_cast<size_t>(y) * reg.w + x]) words[x * wpc + y / 32] |= 1u << (y % 32);
      used += nw;
    } else {
      r.word_offset = -1;
      ++unplaced;
    }
    std::memcpy(b + l.records + sizeof(PasteMaskRecord) * kept, &r, sizeof r);
    ++kept;
  }
  const PasteMaskHeader hdr{kept, static_cast<int32_t>(used), unplaced, count};
  std::memcpy(b + l.header, &hdr, sizeof hdr);
  return block;
}

void expect_same_instances(const std::vector<Instance>& got, const std::vector<Instance>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t j = 0; j < got.size(); ++j) {
    for (int c = 0; c < 4; ++c) ASSERT_EQ(std::memcmp(&got[j].box[c], &want[j].box[c], 4), 0) << j;
    ASSERT_EQ(got[j].score, want[j].score) << j;
    ASSERT_EQ(got[j].pred_class, want[j].pred_class) << j;
    ASSERT_EQ(got[j].has_mask, want[j].has_mask) << j;
    ASSERT_EQ(got[j].mask.height, want[j].mask.height) << j;
    ASSERT_EQ(got[j].mask.width, want[j].mask.width) << j;
    ASSERT_EQ(got[j].mask.counts, want[j].mask.counts) << j;
  }
}
}  // namespace

TEST(PastedBlock, UnpackEqualsDetectorPostprocess) {
  std::mt19937 rng(7);
  const struct { int rh, rw, oh, ow, M, D; } sizes[] = {{800, 1067, 480, 640, 28, 12}, {37, 23, 19, 11, 5, 9},
                                                        {64, 64, 1, 1, 28, 4}};
  int fallbacks = 0, placed = 0;
  for (const auto& s : sizes)
    for (int64_t cap_div : {0, 1, 3, 50}) {  // 0: default capacity; otherwise a fraction (forces fallback)
      PasteMaskCudaParams p;
      p.capacity = s.D;
      p.mask_size = s.M;
      p.resized_h = s.rh;
      p.resized_w = s.rw;
      p.orig_h = s.oh;
      p.orig_w = s.ow;
      p.threshold = 0.5f;
      const int64_t def = paste_mask_default_words_capacity(s.oh, s.ow);
      p.words_capacity = cap_div == 0 ? def : def / (cap_div * 4);
      std::uniform_real_distribution<float> ux(-0.2f * s.rw, 1.2f * s.rw), uy(-0.2f * s.rh, 1.2f * s.rh), u01(0, 1);
      std::vector<float> boxes(4 * s.D), masks(static_cast<size_t>(s.D) * s.M * s.M), scores(s.D);
      std::vector<int> classes(s.D);
      for (int i = 0; i < s.D; ++i) {
        float x0 = ux(rng), x1 = ux(rng), y0 = uy(rng), y1 = uy(rng);
        if (i % 4 != 3) {  // every 4th may be inverted / degenerate
          if (x0 > x1) std::swap(x0, x1);
          if (y0 > y1) std::swap(y0, y1);
        }
        boxes[4 * i] = x0;
        boxes[4 * i + 1] = y0;
        boxes[4 * i + 2] = x1;
        boxes[4 * i + 3] = y1;
        scores[i] = u01(rng);
        classes[i] = i % 7;
      }
      for (size_t k = 0; k < masks.size(); ++k) masks[k] = (k % 5 == 0) ? 0.5f : u01(rng);
      const int count = s.D - 1;  // the last row is beyond the count (garbage the host must not read)
      const auto block = assemble_block(p, count, boxes, masks);
      const auto got = unpack_pasted_masks(p, block.data(), scores.data(), classes.data(), masks.data());
      Detections det;
      det.pred_boxes = Tensor({count, 4}, std::vector<float>(boxes.begin(), boxes.begin() + 4 * count));
      det.scores.assign(scores.begin(), scores.begin() + count);
      det.pred_classes.assign(classes.begin(), classes.begin() + count);
      det.mask_probs = Tensor({count, s.M, s.M},
                              std::vector<float>(masks.begin(), masks.begin() + static_cast<size_t>(count) * s.M * s.M));
      const auto want = detector_postprocess(det, s.rh, s.rw, s.oh, s.ow, true, 0.5f);
      expect_same_instances(got, want);
      PasteMaskHeader hdr;
      std::memcpy(&hdr, block.data(), sizeof hdr);
      fallbacks += hdr.unplaced;
      placed += hdr.kept - hdr.unplaced;
    }
  EXPECT_GT(fallbacks, 0);  // both paths were exercised
  EXPECT_GT(placed, 0);
}

TEST(PastedBlock, NullMaskProbsOnlyWhenAllPlaced) {
  PasteMaskCudaParams p;
  p.capacity = 1;
  p.mask_size = 2;
  p.resized_h = p.resized_w = 4;
  p.orig_h = p.orig_w = 4;
  p.threshold = 0.5f;
  p.words_capacity = 0;  // nothing fits
  const std::vector<float> boxes = {0.f, 0.f, 4.f, 4.f}, masks = {1.f, 1.f, 1.f, 1.f};
  const float score = 0.9f;
  const int cls = 2;
  const auto block = assemble_block(p, 1, boxes, masks);
  EXPECT_THROW(unpack_pasted_masks(p, block.data(), &score, &cls, nullptr), Error);
  const auto got = unpack_pasted_masks(p, block.data(), &score, &cls, masks.data());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].mask.counts, (std::vector<uint32_t>{0, 16}));  // constant-1 mask over the whole image
}
