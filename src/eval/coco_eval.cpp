// COCO evaluation equal to pycocotools' COCOeval (see coco_eval.h for the behaviour reproduced).
#include "eval/coco_eval.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

#include "core/check.h"
#include "eval/coco_mask.h"

namespace maskrt::eval {
namespace {

constexpr double kNumpySpacing1 = 2.220446049250313e-16;  // np.spacing(1), pycocotools' 0/0 guard

// numpy's pairwise summation of a contiguous float64 array (what np.mean uses), so that means over
// the same values in the same order round the same way.
double pairwise_sum(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

double numpy_mean(const std::vector<double>& v) { return pairwise_sum(v.data(), v.size()) / static_cast<double>(v.size()); }

// pycocotools annToRLE (ground truth) / loadRes + annToRLE (results).
RleMask segmentation_to_rle(const CocoSegmentation& s, int h, int w, const std::string& what) {
  switch (s.kind) {
    case CocoSegmentation::Kind::kRle:
      return s.rle;
    case CocoSegmentation::Kind::kPolygons: {
      MASKRT_CHECK(!s.polygons.empty(), ErrorCode::kInvalidArgument, what, ": empty 'segmentation' polygon list");
      // pycocotools' frPyObjects only takes a polygon list whose first part has more than 4 numbers (with
      // exactly 4 it tries to read boxes and fails); later parts need one x, y pair.
      MASKRT_CHECK(s.polygons[0].size() > 4, ErrorCode::kInvalidArgument, what, ": segmentation polygon 0 has ",
                   s.polygons[0].size(), " numbers; pycocotools needs more than 4 (at least 3 x, y pairs)");
      std::vector<RleMask> parts;
      for (size_t i = 0; i < s.polygons.size(); ++i) {
        MASKRT_CHECK(s.polygons[i].size() >= 2, ErrorCode::kInvalidArgument, what, ": segmentation polygon ", i,
                     " has ", s.polygons[i].size(), " numbers; a polygon needs x, y pairs");
        parts.push_back(polygon_to_rle(s.polygons[i], h, w));
      }
      return rle_union(parts);
    }
    case CocoSegmentation::Kind::kNone:
      break;
  }
  MASKRT_FAIL(ErrorCode::kInvalidArgument, what, ": has no 'segmentation' (needed for segm evaluation)");
}

struct Object {  // a prepared GT annotation or result
  int64_t id = 0;
  double score = 0;  // results only
  double area = 0;
  bool crowd = false;
  std::array<double, 4> bbox{};
  RleMask rle;  // segm only
};

struct EvalImg {  // pycocotools evaluateImg for one (category, area range, image), maxDet = max_dets.back()
  bool present = false;
  std::vector<double> scores;     // D, sorted descending
  std::vector<uint8_t> matched;   // (T, D): dtMatches != 0
  std::vector<uint8_t> ignored;   // (T, D): dtIgnore
  int64_t num_gt_not_ignored = 0;
};

std::vector<int> stable_order_by_score(const std::vector<double>& scores) {
  std::vector<int> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return -scores[a] < -scores[b]; });
  return order;
}

}  // namespace

const char* iou_type_name(IouType t) { return t == IouType::kBbox ? "bbox" : "segm"; }

std::vector<double> linspace(double start, double stop, int num) {
  std::vector<double> v(static_cast<size_t>(std::max(num, 0)));
  if (num == 1) v[0] = start;
  if (num < 2) return v;
  const double step = (stop - start) / (num - 1);
  for (int i = 0; i < num; ++i) v[i] = static_cast<double>(i) * step + start;
  v[num - 1] = stop;
  return v;
}

EvalParams EvalParams::coco_default() {
  EvalParams p;
  p.iou_thrs = linspace(0.5, 0.95, static_cast<int>(std::round((0.95 - 0.5) / 0.05)) + 1);
  p.rec_thrs = linspace(0.0, 1.0, static_cast<int>(std::round((1.0 - 0.0) / 0.01)) + 1);
  p.max_dets = {1, 10, 100};
  p.area_rngs = {{0.0, 1e10}, {0.0, 1024.0}, {1024.0, 9216.0}, {9216.0, 1e10}};
  p.area_labels = {"all", "small", "medium", "large"};
  return p;
}

double EvalResult::precision_at(int t, int r, int k, int a, int m) const {
  const size_t R = params.rec_thrs.size(), K = category_ids.size(), A = params.area_rngs.size(),
               M = params.max_dets.size();
  return precision[(((t * R + r) * K + k) * A + a) * M + m];
}

double EvalResult::recall_at(int t, int k, int a, int m) const {
  const size_t K = category_ids.size(), A = params.area_rngs.size(), M = params.max_dets.size();
  return recall[((t * K + k) * A + a) * M + m];
}

EvalResult evaluate(const CocoDataset& gt, const std::vector<CocoDetection>& results, IouType iou_type,
                    const EvalParams& params_in) {
  validate_coco_results(results, gt, "results");
  EvalParams p = params_in;
  MASKRT_CHECK(!p.iou_thrs.empty() && !p.rec_thrs.empty() && !p.max_dets.empty() && !p.area_rngs.empty() &&
                   p.area_rngs.size() == p.area_labels.size(),
               ErrorCode::kInvalidArgument, "evaluate: empty or inconsistent EvalParams");
  std::sort(p.max_dets.begin(), p.max_dets.end());  // as COCOeval.evaluate
  const bool segm = iou_type == IouType::kSegm;

  EvalResult res;
  res.iou_type = iou_type;
  res.params = p;
  for (const auto& img : gt.images) res.image_ids.push_back(img.id);
  for (const auto& c : gt.categories) res.category_ids.push_back(c.id);
  std::sort(res.image_ids.begin(), res.image_ids.end());
  std::sort(res.category_ids.begin(), res.category_ids.end());
  const size_t I = res.image_ids.size(), K = res.category_ids.size(), T = p.iou_thrs.size(),
               R = p.rec_thrs.size(), A = p.area_rngs.size(), M = p.max_dets.size();
  std::unordered_map<int64_t, size_t> img_pos, cat_pos;
  for (size_t i = 0; i < I; ++i) img_pos[res.image_ids[i]] = i;
  for (size_t k = 0; k < K; ++k) cat_pos[res.category_ids[k]] = k;
  auto cell_of = [&](int64_t image_id, int64_t category_id) {
    return img_pos.at(image_id) * K + cat_pos.at(category_id);
  };

  // ---- ground truth (COCOeval._prepare) ----
  std::vector<Object> gts(gt.annotations.size());
  std::vector<std::vector<int>> gt_cells(I * K);  // per (image, category): GT in file order
  for (size_t j = 0; j < gt.annotations.size(); ++j) {
    const CocoAnnotation& a = gt.annotations[j];
    const std::string what = detail::concat(gt.source, ": annotations[", j, "] (id ", a.id, ")");  // as the loader says
    Object& o = gts[j];
    o.id = a.id;
    o.area = a.area;
    o.crowd = a.iscrowd;  // pycocotools: ignore = iscrowd
    if (segm) {
      const CocoImageInfo& img = gt.images[gt.image_index.at(a.image_id)];
      o.rle = segmentation_to_rle(a.segmentation, img.height, img.width, what);
    } else {
      MASKRT_CHECK(a.has_bbox, ErrorCode::kInvalidArgument, what, ": has no 'bbox' (needed for bbox evaluation)");
      o.bbox = a.bbox;
    }
    gt_cells[cell_of(a.image_id, a.category_id)].push_back(static_cast<int>(j));
  }

  // ---- results (COCO.loadRes) ----
  const bool drop_bbox = segm && p.segm_drop_result_bbox;
  const bool bbox_branch = !results.empty() && results[0].has_bbox && !drop_bbox;
  std::vector<Object> dts(results.size());
  std::vector<std::vector<int>> dt_cells(I * K);
  for (size_t j = 0; j < results.size(); ++j) {
    const CocoDetection& d = results[j];
    const std::string what = detail::concat("results[", j, "]");
    const CocoImageInfo& img = gt.images[gt.image_index.at(d.image_id)];
    Object& o = dts[j];
    o.id = static_cast<int64_t>(j) + 1;
    o.score = d.score;
    if (bbox_branch) {
      MASKRT_CHECK(d.has_bbox, ErrorCode::kInvalidArgument, what,
                   ": has no 'bbox' but results[0] has one (pycocotools then takes every area from the bbox)");
      o.bbox = d.bbox;
      o.area = d.bbox[2] * d.bbox[3];
      if (segm)
        o.rle = d.segmentation.kind == CocoSegmentation::Kind::kNone ? box_to_rle(d.bbox, img.height, img.width)
                                                                      : segmentation_to_rle(d.segmentation, img.height,
                                                                                            img.width, what);
    } else {
      MASKRT_CHECK(d.segmentation.kind != CocoSegmentation::Kind::kNone, ErrorCode::kInvalidArgument, what,
                   ": has no 'segmentation': ",
                   drop_bbox ? "mask (segm) AP needs one in every result (Detectron2 evaluates masks without boxes)"
                             : "results[0] has no 'bbox', so every result needs a mask (pycocotools' loadRes)");
      o.rle = segmentation_to_rle(d.segmentation, img.height, img.width, what);
      o.area = static_cast<double>(rle_area(o.rle));
      o.bbox = (d.has_bbox && !drop_bbox) ? d.bbox : rle_to_bbox(o.rle);
    }
    dt_cells[cell_of(d.image_id, d.category_id)].push_back(static_cast<int>(j));
  }

  // Detections of each cell sorted by score (stable) and cut to the largest maxDets.
  const size_t max_det = static_cast<size_t>(p.max_dets.back());
  for (auto& cell : dt_cells) {
    std::vector<double> s(cell.size());
    for (size_t i = 0; i < cell.size(); ++i) s[i] = dts[cell[i]].score;
    const std::vector<int> order = stable_order_by_score(s);
    std::vector<int> sorted;
    for (size_t i = 0; i < order.size() && i < max_det; ++i) sorted.push_back(cell[order[i]]);
    cell = std::move(sorted);
  }

  // ---- IoU per (image, category): (D, G), GT in file order (COCOeval.computeIoU) ----
  std::vector<std::vector<double>> ious(I * K);
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t c = 0; c < static_cast<int64_t>(I * K); ++c) {
    const auto& gc = gt_cells[c];
    const auto& dc = dt_cells[c];
    if (gc.empty() || dc.empty()) continue;
    std::vector<double>& m = ious[c];
    m.resize(dc.size() * gc.size());
    for (size_t d = 0; d < dc.size(); ++d)
      for (size_t g = 0; g < gc.size(); ++g) {
        const Object& dt = dts[dc[d]];
        const Object& go = gts[gc[g]];
        m[d * gc.size() + g] = segm ? rle_iou(dt.rle, go.rle, go.crowd) : box_iou(dt.bbox, go.bbox, go.crowd);
      }
  }

  // ---- evaluateImg for every (category, area range, image) that has GT or detections ----
  // pycocotools keeps None for the other (category, image) pairs; only present pairs are stored here,
  // per category in image order: present[k] lists (image index), eval_imgs[k] is (present, A).
  std::vector<std::vector<size_t>> present(K);
  for (size_t k = 0; k < K; ++k)
    for (size_t i = 0; i < I; ++i)
      if (!gt_cells[i * K + k].empty() || !dt_cells[i * K + k].empty()) present[k].push_back(i);
  std::vector<std::pair<size_t, size_t>> jobs;  // (k, j): j-th present image of category k
  for (size_t k = 0; k < K; ++k)
    for (size_t j = 0; j < present[k].size(); ++j) jobs.emplace_back(k, j);
  std::vector<std::vector<EvalImg>> eval_imgs(K);
  for (size_t k = 0; k < K; ++k) eval_imgs[k].resize(present[k].size() * A);
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t job = 0; job < static_cast<int64_t>(jobs.size() * A); ++job) {
    const size_t k = jobs[job / A].first, j = jobs[job / A].second, a = job % A;
    const size_t c = present[k][j] * K + k;
    const auto& gc = gt_cells[c];
    const auto& dc = dt_cells[c];
    const double lo = p.area_rngs[a][0], hi = p.area_rngs[a][1];
    const size_t G = gc.size(), D = dc.size();
    std::vector<int> g_ig(G);
    for (size_t g = 0; g < G; ++g) {
      const Object& o = gts[gc[g]];
      g_ig[g] = (o.crowd || o.area < lo || o.area > hi) ? 1 : 0;
    }
    std::vector<int> order(G);  // non-ignored GT first, stable
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return g_ig[x] < g_ig[y]; });

    EvalImg& e = eval_imgs[k][j * A + a];
    e.present = true;
    e.scores.resize(D);
    for (size_t d = 0; d < D; ++d) e.scores[d] = dts[dc[d]].score;
    std::vector<int64_t> dt_gt_id(T * D, 0);
    std::vector<uint8_t> dt_ig(T * D, 0), gt_taken(T * G, 0);
    const std::vector<double>& iou = ious[c];
    if (!iou.empty()) {
      for (size_t t = 0; t < T; ++t) {
        for (size_t d = 0; d < D; ++d) {
          double best = std::min(p.iou_thrs[t], 1 - 1e-10);
          int m = -1;
          for (size_t gi = 0; gi < G; ++gi) {
            const int g = order[gi];
            if (gt_taken[t * G + gi] && !gts[gc[g]].crowd) continue;  // taken, and not a crowd region
            if (m > -1 && g_ig[order[m]] == 0 && g_ig[g] == 1) break;  // matched to a regular GT already
            const double v = iou[d * G + g];
            if (v < best) continue;
            best = v;
            m = static_cast<int>(gi);
          }
          if (m == -1) continue;
          dt_ig[t * D + d] = static_cast<uint8_t>(g_ig[order[m]]);
          dt_gt_id[t * D + d] = gts[gc[order[m]]].id;
          gt_taken[t * G + m] = 1;
        }
      }
    }
    e.matched.resize(T * D);
    e.ignored.resize(T * D);
    for (size_t t = 0; t < T; ++t)
      for (size_t d = 0; d < D; ++d) {
        const double area = dts[dc[d]].area;
        const bool matched = dt_gt_id[t * D + d] != 0;  // pycocotools tests the stored GT id
        e.matched[t * D + d] = matched;
        e.ignored[t * D + d] = dt_ig[t * D + d] || (!matched && (area < lo || area > hi));
      }
    for (int v : g_ig) e.num_gt_not_ignored += (v == 0);
  }

  // ---- accumulate ----
  res.precision.assign(T * R * K * A * M, -1.0);
  res.recall.assign(T * K * A * M, -1.0);
  for (size_t k = 0; k < K; ++k)
    for (size_t a = 0; a < A; ++a)
      for (size_t m = 0; m < M; ++m) {
        const size_t md = static_cast<size_t>(std::max(p.max_dets[m], 0));
        std::vector<double> scores;
        std::vector<const EvalImg*> imgs;
        std::vector<size_t> take;
        int64_t npig = 0;
        for (size_t j = 0; j < present[k].size(); ++j) {
          const EvalImg& e = eval_imgs[k][j * A + a];
          imgs.push_back(&e);
          const size_t n = std::min(md, e.scores.size());
          take.push_back(n);
          scores.insert(scores.end(), e.scores.begin(), e.scores.begin() + n);
          npig += e.num_gt_not_ignored;
        }
        if (imgs.empty() || npig == 0) continue;
        const size_t N = scores.size();
        const std::vector<int> order = stable_order_by_score(scores);
        // Concatenated (T, N) flags in image order, then permuted by `order`.
        std::vector<uint8_t> matched(T * N), ignored(T * N);
        for (size_t t = 0; t < T; ++t) {
          size_t col = 0;
          for (size_t j = 0; j < imgs.size(); ++j) {
            const size_t D = imgs[j]->scores.size();
            for (size_t d = 0; d < take[j]; ++d, ++col) {
              matched[t * N + col] = imgs[j]->matched[t * D + d];
              ignored[t * N + col] = imgs[j]->ignored[t * D + d];
            }
          }
        }
        std::vector<double> rc(N), pr(N);
        for (size_t t = 0; t < T; ++t) {
          double tp = 0, fp = 0;
          for (size_t n = 0; n < N; ++n) {
            const size_t col = order[n];
            const bool ig = ignored[t * N + col];
            if (!ig) (matched[t * N + col] ? tp : fp) += 1;
            rc[n] = tp / static_cast<double>(npig);
            pr[n] = tp / (fp + tp + kNumpySpacing1);
          }
          res.recall[((t * K + k) * A + a) * M + m] = N ? rc[N - 1] : 0.0;
          for (size_t n = N; n-- > 1;)
            if (pr[n] > pr[n - 1]) pr[n - 1] = pr[n];
          for (size_t r = 0; r < R; ++r) {
            const size_t pos = std::lower_bound(rc.begin(), rc.end(), p.rec_thrs[r]) - rc.begin();
            res.precision[(((t * R + r) * K + k) * A + a) * M + m] = pos < N ? pr[pos] : 0.0;
          }
        }
      }

  // ---- summarize ----
  auto find_index = [](const auto& v, const auto& x) -> int {
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i] == x) return static_cast<int>(i);
    return -1;
  };
  auto summarize = [&](bool ap, double iou_thr, const char* area_label, int max_dets) {
    const int ai = find_index(p.area_labels, std::string(area_label));
    const int mi = find_index(p.max_dets, max_dets);
    std::vector<double> vals;
    if (ai >= 0 && mi >= 0) {
      for (size_t t = 0; t < T; ++t) {
        if (!std::isnan(iou_thr) && p.iou_thrs[t] != iou_thr) continue;
        if (ap) {
          for (size_t r = 0; r < R; ++r)
            for (size_t k = 0; k < K; ++k) {
              const double v = res.precision[(((t * R + r) * K + k) * A + ai) * M + mi];
              if (v > -1) vals.push_back(v);
            }
        } else {
          for (size_t k = 0; k < K; ++k) {
            const double v = res.recall[((t * K + k) * A + ai) * M + mi];
            if (v > -1) vals.push_back(v);
          }
        }
      }
    }
    return vals.empty() ? -1.0 : numpy_mean(vals);
  };
  const double all = std::numeric_limits<double>::quiet_NaN();
  const int m0 = p.max_dets[0], m1 = M > 1 ? p.max_dets[1] : -1, m2 = M > 2 ? p.max_dets[2] : -1;
  res.stats = {summarize(true, all, "all", 100),  // pycocotools passes the literal 100 here
               summarize(true, 0.5, "all", m2),      summarize(true, 0.75, "all", m2),
               summarize(true, all, "small", m2),    summarize(true, all, "medium", m2),
               summarize(true, all, "large", m2),    summarize(false, all, "all", m0),
               summarize(false, all, "all", m1),     summarize(false, all, "all", m2),
               summarize(false, all, "small", m2),   summarize(false, all, "medium", m2),
               summarize(false, all, "large", m2)};

  // Detectron2's per-category AP (area index 0, last maxDets).
  res.per_category_ap.resize(K);
  for (size_t k = 0; k < K; ++k) {
    std::vector<double> vals;
    for (size_t t = 0; t < T; ++t)
      for (size_t r = 0; r < R; ++r) {
        const double v = res.precision[(((t * R + r) * K + k) * A + 0) * M + (M - 1)];
        if (v > -1) vals.push_back(v);
      }
    res.per_category_ap[k] = vals.empty() ? std::numeric_limits<double>::quiet_NaN() : numpy_mean(vals);
  }
  return res;
}

std::string EvalResult::summary() const {
  static const char* kRows[12][3] = {
      {"Average Precision", "(AP)", nullptr}, {"Average Precision", "(AP)", nullptr},
      {"Average Precision", "(AP)", nullptr}, {"Average Precision", "(AP)", nullptr},
      {"Average Precision", "(AP)", nullptr}, {"Average Precision", "(AP)", nullptr},
      {"Average Recall", "(AR)", nullptr},    {"Average Recall", "(AR)", nullptr},
      {"Average Recall", "(AR)", nullptr},    {"Average Recall", "(AR)", nullptr},
      {"Average Recall", "(AR)", nullptr},    {"Average Recall", "(AR)", nullptr}};
  const char* ious[12] = {nullptr, "0.50", "0.75", nullptr, nullptr, nullptr,
                          nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
  const char* areas[12] = {"all", "all", "all", "small", "medium", "large",
                           "all", "all", "all", "small", "medium", "large"};
  const int md = params.max_dets.size() > 2 ? params.max_dets[2] : 0;
  const int dets[12] = {100, md, md, md, md, md, params.max_dets[0],
                        params.max_dets.size() > 1 ? params.max_dets[1] : 0, md, md, md, md};
  char range[32];
  std::snprintf(range, sizeof range, "%0.2f:%0.2f", params.iou_thrs.front(), params.iou_thrs.back());
  std::string out;
  for (int i = 0; i < 12; ++i) {
    char line[160];
    std::snprintf(line, sizeof line, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f\n", kRows[i][0],
                  kRows[i][1], ious[i] ? ious[i] : range, areas[i], dets[i], stats[i]);
    out += line;
  }
  return out;
}

}  // namespace maskrt::eval
