#include "backend/cuda/deconv_cublas.h"

#include <vector>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/deconv_scatter.h"
#include "core/check.h"

namespace maskrt::cuda {

DeconvCublas::DeconvCublas(const Tensor& weight, const Tensor& bias, bool relu, Precision precision,
                           const std::string& name, Layout layout)
    : name_(name), precision_(precision), relu_(relu),
      nhwc_f32_(precision == Precision::kTF32 && layout == Layout::kNHWC) {
  MASKRT_ASSERT(layout == Layout::kNCHW || precision != Precision::kFP32, name);
  MASKRT_ASSERT(weight.dim() == 4 && weight.size(2) == 2 && weight.size(3) == 2, name);
  in_c_ = static_cast<int>(weight.size(0));
  out_c_ = static_cast<int>(weight.size(1));
  // fp32/tf32: (C, O, 2, 2) row-major is already (C, O*4), what the GEMM reads. fp16: permuted to
  // (C, 2, 2, O), so that the GEMM's output row of a pixel is (tap, channel) with channels contiguous
  // and the scatter reads and writes 8 channels at a time (deconv_scatter.h).
  // tf32 NHWC: the same (C, 2, 2, O) order in float32.
  if (precision == Precision::kFP16 || nhwc_f32_) {
    std::vector<float> w(static_cast<size_t>(weight.numel()));
    for (int c = 0; c < in_c_; ++c)
      for (int o = 0; o < out_c_; ++o)
        for (int k = 0; k < 4; ++k)
          w[(static_cast<size_t>(c) * 4 + k) * out_c_ + o] = weight[(static_cast<int64_t>(c) * out_c_ + o) * 4 + k];
    if (nhwc_f32_) {
      weight_ = DeviceBuffer::upload(w, name + ".weight");
      bias_ = DeviceBuffer::upload(bias.data(), bias.numel() * sizeof(float), name + ".bias");
    } else {
      weight_ = DeviceBuffer::upload(to_half(w.data(), w.size()), name + ".weight");
      bias_ = DeviceBuffer::upload(to_half(bias.data(), bias.numel()), name + ".bias");
    }
  } else {
    weight_ = DeviceBuffer::upload(weight.data(), weight.numel() * sizeof(float), name + ".weight");
    bias_ = DeviceBuffer::upload(bias.data(), bias.numel() * sizeof(float), name + ".bias");
  }
}

size_t DeconvCublas::scratch_bytes(int n, int h, int w) const {
  return static_cast<size_t>(n) * h * w * out_c_ * 4 * (precision_ == Precision::kFP16 ? 2 : 4);
}

void DeconvCublas::forward(const CudaContext& ctx, const DeviceTensor& x, const DeviceTensor& y, void* scratch) const {
  MASKRT_ASSERT(x.c == in_c_ && y.c == out_c_ && y.n == x.n && y.h == 2 * x.h && y.w == 2 * x.w, name_);
  if (x.n == 0) return;
  const int HW = x.h * x.w, O4 = out_c_ * 4, C = in_c_;
  const float one = 1.f, zero = 0.f;
  if (precision_ == Precision::kFP16) {
    // G (N*HW, O4) row-major == (O4 x N*HW) col-major = W_cm (O4 x C) * X_cm (C x N*HW).
    MASKRT_CUDA_CHECK(cublasGemmEx(ctx.cublas(), CUBLAS_OP_N, CUBLAS_OP_N, O4, x.n * HW, C, &one, weight_.get(),
                                   CUDA_R_16F, O4, x.ptr, CUDA_R_16F, C, &zero, scratch, CUDA_R_16F, O4,
                                   CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  } else if (nhwc_f32_) {
    // As fp16, in float32 with TF32 tensor cores: G (N*HW, O4) row-major = X (N*HW, C) * W' (C, O4).
    MASKRT_CUDA_CHECK(cublasGemmEx(ctx.cublas(), CUBLAS_OP_N, CUBLAS_OP_N, O4, x.n * HW, C, &one, weight_.get(),
                                   CUDA_R_32F, O4, x.ptr, CUDA_R_32F, C, &zero, scratch, CUDA_R_32F, O4,
                                   CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT));
  } else {
    // Per image n: G_n (O4, HW) row-major == (HW x O4) col-major = X_n_cm (HW x C) * W_cm^T (C x O4),
    // where X_n (C, HW) row-major == (HW x C) col-major and W (C, O4) row-major == (O4 x C) col-major.
    const cublasComputeType_t compute =
        precision_ == Precision::kTF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    MASKRT_CUDA_CHECK(cublasGemmStridedBatchedEx(
        ctx.cublas(), CUBLAS_OP_N, CUBLAS_OP_T, HW, O4, C, &one, x.ptr, CUDA_R_32F, HW,
        static_cast<long long>(C) * HW, weight_.get(), CUDA_R_32F, O4, 0, &zero, scratch, CUDA_R_32F, HW,
        static_cast<long long>(O4) * HW, x.n, compute, CUBLAS_GEMM_DEFAULT));
  }
  DeconvScatterParams p;
  p.n = x.n;
  p.out_channels = out_c_;
  p.in_h = x.h;
  p.in_w = x.w;
  p.nhwc_fp16 = precision_ == Precision::kFP16;
  p.nhwc_fp32 = nhwc_f32_;
  p.relu = relu_;
  deconv2x2_scatter(p, scratch, bias_.get(), y.ptr, ctx.stream());
}

}  // namespace maskrt::cuda
