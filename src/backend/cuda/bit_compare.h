#pragma once
// Device-side byte comparison for ConvCudnn::plan_pinned's bit check (conv_cudnn.h): how many bytes of
// two device buffers differ, without copying them to the host.
// Thread safety: reentrant (stream-ordered work only).
#include <cuda_runtime_api.h>

#include <cstddef>

namespace maskrt::cuda {

// Enqueues on `stream`: *count = the number of byte positions i < bytes where a[i] != b[i]. `count` is
// device memory (one unsigned long long), zeroed here first. Any alignment and size (16-byte words
// where both pointers allow, bytes elsewhere). Errors: a failed launch throws maskrt::Error (kDevice).
// The result is ready when the stream is synchronised.
void count_differing_bytes(const void* a, const void* b, size_t bytes, unsigned long long* count,
                           cudaStream_t stream);

}  // namespace maskrt::cuda
