#pragma once
// Pillow-exact bilinear resize of uint8 images, and Detectron2's ResizeShortestEdge output shape.
//
// Reproduces `PIL.Image.resize((out_width, out_height), Image.BILINEAR)` (Pillow 13,
// libImaging/Resample.c, default box and reducing_gap=None), which is what Detectron2's
// `ResizeTransform.apply_image` runs for uint8 images:
//   - separable: two 1-D passes through an intermediate uint8 image. A pass is skipped when that
//     dimension is unchanged; equal sizes give a copy. Pass order (Pillow 13, PR #9549, measured
//     against the installed Pillow 13.0.0 on 400+ random size pairs and the dh == 2*dw boundary):
//     vertical first iff out_height < in_height and (in_height - out_height) >
//     2 * (in_width - out_width) (see resize_vertical_first); otherwise horizontal first (Pillow 12
//     and older always did horizontal first), over only the source rows the vertical pass reads.
//   - per output index i, centre c = (i + 0.5) * scale with scale = in_size / out_size (double);
//     support = 1 * max(scale, 1) (the triangle filter is widened when downscaling: antialias);
//     taps j in [int(c - support + 0.5), int(c + support + 0.5)) clipped to [0, in_size);
//     weight(j) = tri((j - c + 0.5) / max(scale, 1)), tri(x) = max(0, 1 - |x|), normalised to sum 1;
//   - weights in fixed point: w_int = int(w * 2^22 + 0.5) (PRECISION_BITS = 22);
//   - each pass accumulates in int32 starting at 2^21 (rounding), then >> 22 and clamps to
//     [0, 255]: the intermediate image is rounded and clipped to uint8 between the passes.
// Pixels are independent channels: channels = 1 equals Pillow mode "L", 3 equals "RGB", 4 equals
// "RGBX"/"CMYK". NOT reproduced: Pillow's premultiplied-alpha path for "RGBA"/"LA" images.
//
// Layout: HWC, row-major, interleaved, uint8; in: (in_height, in_width, channels),
// out: (out_height, out_width, channels); the buffers must not overlap.
// Errors: sizes < 1 or channels outside 1..4 throw maskrt::Error(kInvalidArgument).
// Thread safety: pure functions; resize_bilinear_pillow_cpu uses OpenMP threads internally.
#include <cstdint>
#include <utility>

namespace maskrt::ops {

struct ResizeParams {
  int in_height = 0;
  int in_width = 0;
  int out_height = 0;
  int out_width = 0;
  int channels = 3;  // 1..4
};

// Throws maskrt::Error(kInvalidArgument) if the params are not usable.
void validate(const ResizeParams& p);

// True when Pillow 13 runs the vertical pass first for these sizes (both passes needed).
bool resize_vertical_first(const ResizeParams& p);

// Plain scalar reference (the oracle for the optimised version).
void resize_bilinear_pillow_ref(const ResizeParams& p, const uint8_t* in, uint8_t* out);

// Same results, faster: coefficients precomputed once per axis, rows split over OpenMP threads.
// num_threads <= 0 uses OpenMP's default.
void resize_bilinear_pillow_cpu(const ResizeParams& p, const uint8_t* in, uint8_t* out,
                                int num_threads = 0);

// Detectron2 `ResizeShortestEdge.get_output_shape(h, w, min_size, max_size)`
// (detectron2/data/transforms/augmentation_impl.py): scale = min_size / min(h, w); if the longer
// side would exceed max_size, rescale so that it equals max_size; each side is then rounded with
// int(x + 0.5) (double arithmetic, as Python floats). min_size == 0 means no resize (Detectron2's
// get_transform returns NoOpTransform) and returns (h, w). Returns (new_h, new_w), in pixels.
// Throws maskrt::Error(kInvalidArgument) for h or w < 1, or min_size/max_size < 0.
std::pair<int, int> resize_shortest_edge_shape(int h, int w, int min_size, int max_size);

}  // namespace maskrt::ops
