#include "backend/cuda/linear_cublas.h"

#include <utility>

#include "backend/cuda/cuda_check.h"
#include "core/check.h"

namespace maskrt::cuda {

struct LinearCublas::Plan {
  cublasLtMatrixLayout_t b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;
  ~Plan() {
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (d) cublasLtMatrixLayoutDestroy(d);
  }
};

namespace {
cudaDataType_t in_type(Precision p) { return p == Precision::kFP16 ? CUDA_R_16F : CUDA_R_32F; }
}  // namespace

LinearCublas::LinearCublas(const LinearLayer& layer, Precision precision, bool fp32_output, const std::string& name,
                           const std::vector<int>& in_permutation)
    : name_(name), precision_(precision), fp32_output_(precision != Precision::kFP16 || fp32_output),
      relu_(layer.relu) {
  out_ = static_cast<int>(layer.weight.size(0));
  in_ = static_cast<int>(layer.weight.size(1));
  MASKRT_ASSERT(in_permutation.empty() || static_cast<int>(in_permutation.size()) == in_, name);
  std::vector<float> w(static_cast<size_t>(out_) * in_);
  for (int o = 0; o < out_; ++o)
    for (int j = 0; j < in_; ++j)
      w[static_cast<size_t>(o) * in_ + j] =
          layer.weight[static_cast<int64_t>(o) * in_ + (in_permutation.empty() ? j : in_permutation[j])];
  if (precision == Precision::kFP16) {
    weight_ = DeviceBuffer::upload(to_half(w.data(), w.size()), name + ".weight");
  } else {
    weight_ = DeviceBuffer::upload(w, name + ".weight");
  }
  if (fp32_output_)
    bias_ = DeviceBuffer::upload(layer.bias.data(), out_ * sizeof(float), name + ".bias");
  else
    bias_ = DeviceBuffer::upload(to_half(layer.bias.data(), out_), name + ".bias");

  try {
    const cublasComputeType_t compute =
        precision == Precision::kTF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    MASKRT_CUDA_CHECK(cublasLtMatmulDescCreate(&desc_, compute, CUDA_R_32F));
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    MASKRT_CUDA_CHECK(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
    MASKRT_CUDA_CHECK(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
    const cublasLtEpilogue_t epi = relu_ ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
    MASKRT_CUDA_CHECK(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
    const void* bias_ptr = bias_.get();
    MASKRT_CUDA_CHECK(
        cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias_ptr, sizeof(bias_ptr)));
    const cudaDataType_t bias_type = fp32_output_ ? CUDA_R_32F : CUDA_R_16F;
    MASKRT_CUDA_CHECK(
        cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type)));
    // A = W stored (out, in) row-major == (in x out) column-major, ld = in; op(A) = A^T (out x in).
    MASKRT_CUDA_CHECK(cublasLtMatrixLayoutCreate(&a_layout_, in_type(precision), in_, out_, in_));
  } catch (...) {
    release();
    throw;
  }
}

void LinearCublas::release() noexcept {
  plans_.clear();
  if (a_layout_) cublasLtMatrixLayoutDestroy(a_layout_);
  if (desc_) cublasLtMatmulDescDestroy(desc_);
  a_layout_ = nullptr;
  desc_ = nullptr;
}

LinearCublas::LinearCublas() = default;
LinearCublas::~LinearCublas() { release(); }

LinearCublas::LinearCublas(LinearCublas&& o) noexcept { *this = std::move(o); }

LinearCublas& LinearCublas::operator=(LinearCublas&& o) noexcept {
  if (this != &o) {
    release();
    name_ = std::move(o.name_);
    precision_ = o.precision_;
    fp32_output_ = o.fp32_output_;
    relu_ = o.relu_;
    in_ = o.in_;
    out_ = o.out_;
    weight_ = std::move(o.weight_);
    bias_ = std::move(o.bias_);
    desc_ = std::exchange(o.desc_, nullptr);
    a_layout_ = std::exchange(o.a_layout_, nullptr);
    plans_ = std::move(o.plans_);
  }
  return *this;
}

size_t LinearCublas::plan(const CudaContext& ctx, int rows) {
  auto it = plans_.find(rows);
  if (it != plans_.end()) return it->second->workspace;
  MASKRT_ASSERT(rows >= 1, name_);
  auto p = std::make_unique<Plan>();
  // B = x (rows, in) row-major == (in x rows) column-major; D = y (rows, out) == (out x rows).
  MASKRT_CUDA_CHECK(cublasLtMatrixLayoutCreate(&p->b, in_type(precision_), in_, rows, in_));
  MASKRT_CUDA_CHECK(cublasLtMatrixLayoutCreate(&p->d, fp32_output_ ? CUDA_R_32F : CUDA_R_16F, out_, rows, out_));
  cublasLtMatmulPreference_t pref = nullptr;
  MASKRT_CUDA_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  const size_t max_ws = kMaxWorkspaceBytes;
  cublasLtMatmulHeuristicResult_t res[8];
  int returned = 0;
  const cublasStatus_t st1 = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                                  &max_ws, sizeof(max_ws));
  const cublasStatus_t st2 = cublasLtMatmulAlgoGetHeuristic(ctx.cublaslt(), desc_, a_layout_, p->b, p->d, p->d, pref,
                                                            8, res, &returned);
  cublasLtMatmulPreferenceDestroy(pref);
  MASKRT_CUDA_CHECK(st1);
  MASKRT_CUDA_CHECK(st2);
  MASKRT_CHECK(returned > 0, ErrorCode::kDevice, name_, ": cuBLASLt offers no algorithm for (", rows, " x ", in_,
               ") x (", in_, " x ", out_, ")");
  p->algo = res[0].algo;
  p->workspace = res[0].workspaceSize;
  const size_t ws = p->workspace;
  plans_.emplace(rows, std::move(p));
  return ws;
}

void LinearCublas::forward(const CudaContext& ctx, const DeviceTensor& x, const DeviceTensor& y, void* workspace,
                           size_t workspace_bytes) {
  auto it = plans_.find(x.n);
  MASKRT_ASSERT(it != plans_.end(), name_, ": forward on an unplanned row count");
  const Plan& p = *it->second;
  MASKRT_ASSERT(y.n == x.n && x.numel() == static_cast<int64_t>(x.n) * in_ && y.numel() == static_cast<int64_t>(y.n) * out_,
                name_);
  MASKRT_ASSERT(workspace_bytes >= p.workspace, name_);
  const float one = 1.f, zero = 0.f;
  MASKRT_CUDA_CHECK(cublasLtMatmul(ctx.cublaslt(), desc_, &one, weight_.get(), a_layout_, x.ptr, p.b, &zero, y.ptr,
                                   p.d, y.ptr, p.d, &p.algo, workspace, p.workspace, ctx.stream()));
}

}  // namespace maskrt::cuda
