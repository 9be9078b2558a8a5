#pragma once
// Carver: what the CUDA model tree uses to lay out one plan's device memory. Every component's
// carve() function runs twice with the same code: once on a measuring DeviceArena (sizes only) and
// once on the real arena (pointers), so the measured peak and the carving cannot disagree
// (device_arena.h). It also collects the largest scratch ("workspace") any op of the plan needs:
// the ops run one after another on one stream, so they share one workspace region.
// Host-only. Thread safety: a local value of the planner.
#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "backend/cuda/conv_cudnn.h"
#include "backend/cuda/cuda_context.h"
#include "backend/cuda/device_arena.h"
#include "backend/cuda/device_tensor.h"
#include "maskrt/engine.h"
#include "ops/small_cuda/small_ops_cuda.h"

namespace maskrt::cuda {

// The CUDA pipeline's activation layout: fp16 NHWC; tf32 NHWC (float32) when `tf32_nhwc` (the
// engine's default since session 7; MASKRT_TF32_NHWC=0 clears it, read once by the engine), else
// NCHW; fp32 always NCHW.
inline Layout activation_layout(Precision precision, bool tf32_nhwc) {
  if (precision == Precision::kFP16) return Layout::kNHWC;
  return precision == Precision::kTF32 && tf32_nhwc ? Layout::kNHWC : Layout::kNCHW;
}

struct Carver {
  const CudaContext& ctx;
  DeviceArena& arena;
  Precision precision;
  // kTF32 only: activations NHWC float32 (tf32's default; activation_layout()).
  bool tf32_nhwc = false;
  // false: lay out activations only (no cuDNN / cuBLASLt planning): a cheap first measurement that
  // rejects sizes which cannot fit before any library is asked about huge tensors.
  bool plan_algos = true;
  // While a group plan's backbone, FPN and RPN head are carved (unless MASKRT_BACKBONE_BATCH_PIN=0):
  // every ConvCudnn is planned by ConvCudnn::plan_pinned (an n-image plan only where it gives each
  // image its single-image bits, else image by image) instead of plan().
  bool pin_convs_to_single = false;
  size_t workspace = 0;

  // Plans `layer` for the given input shape (ConvCudnn: n, h, w; LinearCublas: rows) and records
  // its workspace.
  template <typename Layer, typename... Args>
  void plan(Layer& layer, Args... args) {
    if (!plan_algos) return;
    if constexpr (std::is_same_v<Layer, ConvCudnn>) {
      if (pin_convs_to_single) {
        need_workspace(layer.plan_pinned(ctx, args...));
        return;
      }
    }
    need_workspace(layer.plan(ctx, args...));
  }

  DType act_dtype() const { return precision == Precision::kFP16 ? DType::kF16 : DType::kF32; }
  Layout act_layout() const { return activation_layout(precision, tf32_nhwc); }
  // An activation in the pipeline's dtype / layout (fp32 NCHW, fp16 NHWC, or tf32 NHWC float32),
  // logical (n, c, h, w).
  DeviceTensor act(int n, int c, int h, int w) { return tensor(n, c, h, w, act_dtype(), act_layout()); }
  DeviceTensor f32(int n, int c, int h = 1, int w = 1) { return tensor(n, c, h, w, DType::kF32, Layout::kNCHW); }
  DeviceTensor tensor(int n, int c, int h, int w, DType dt, Layout l) {
    DeviceTensor t;
    t.n = n;
    t.c = c;
    t.h = h;
    t.w = w;
    t.dtype = dt;
    t.layout = l;
    t.ptr = arena.alloc(t.bytes());
    return t;
  }
  template <typename T>
  T* raw(size_t count) { return arena.alloc_n<T>(count); }
  void need_workspace(size_t bytes) { workspace = std::max(workspace, bytes); }
};

// The ops/small_cuda view of a DeviceTensor (dense: c_stride = c).
inline ops::CudaTensorDesc small_desc(const DeviceTensor& t) {
  ops::CudaTensorDesc d;
  d.n = t.n;
  d.c = t.c;
  d.h = t.h;
  d.w = t.w;
  d.layout = t.layout == Layout::kNCHW  ? ops::CudaLayout::kNchwFp32
             : t.dtype == DType::kF16 ? ops::CudaLayout::kNhwcFp16
                                      : ops::CudaLayout::kNhwcFp32;
  d.c_stride = t.c;
  return d;
}

}  // namespace maskrt::cuda
