// Device-to-device copy: the memory roof.
//
// Each thread moves 16-byte vectors (LDG.128/STG.128) with kUnroll independent
// loads in flight before the first store, so that enough bytes are outstanding
// to cover HBM latency (Little's law: ~3.35 TB/s x ~600 ns needs ~2 MB in
// flight across the chip; 132 SMs x 2048 threads x 4 x 16 B = 17 MB).
// A grid-stride loop over a grid sized to fill every SM.
#pragma once
#include <cstddef>
#include <cuda_runtime_api.h>

namespace trainbench::kernels {

// Copies `bytes` from src to dst. Pointers must be 16-byte aligned; a tail that
// is not a multiple of 16 bytes is copied bytewise. `sm_count` sizes the grid.
void copy_vec16(void* dst, const void* src, std::size_t bytes, int sm_count, cudaStream_t stream);

}  // namespace trainbench::kernels
