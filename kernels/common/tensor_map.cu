#include "kernels/common/tensor_map.cuh"

#include <cudaTypedefs.h>
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace trainbench::kernels {
namespace {

// cuTensorMapEncodeTiled as the CUDA 12.0 driver API defines it (the version pins the ABI).
PFN_cuTensorMapEncodeTiled_v12000 encode_tiled() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* found = nullptr;
    cudaDriverEntryPointQueryResult status = cudaDriverEntryPointSymbolNotFound;
    const cudaError_t err =
        cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &found, 12000, cudaEnableDefault, &status);
    if (err != cudaSuccess || status != cudaDriverEntryPointSuccess || found == nullptr)
      throw std::runtime_error(std::string("cannot reach the driver's cuTensorMapEncodeTiled (") +
                               cudaGetErrorString(err) + ", query status " + std::to_string(int(status)) +
                               "): TMA kernels need a CUDA 12.0 or newer driver");
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(found);
  }();
  return fn;
}

CUtensorMap encode_2d_sw128(const void* base, CUtensorMapDataType type, std::uint64_t element_bytes,
                            const char* type_name, std::uint64_t inner, std::uint64_t outer, std::uint32_t box_inner,
                            std::uint32_t box_outer) {
  CUtensorMap map{};
  const cuuint64_t dims[2] = {inner, outer};
  const cuuint64_t strides[1] = {inner * element_bytes};  // bytes from one row to the next; dimension 0 is contiguous
  const cuuint32_t box[2] = {box_inner, box_outer};
  const cuuint32_t element_strides[2] = {1, 1};
  const CUresult r = encode_tiled()(&map, type, 2, const_cast<void*>(base), dims, strides, box, element_strides,
                                    CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                                    CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    throw std::runtime_error("cuTensorMapEncodeTiled failed (CUresult " + std::to_string(int(r)) + ") for a " +
                             std::to_string(outer) + " x " + std::to_string(inner) + " " + type_name +
                             " matrix in boxes of " + std::to_string(box_outer) + " x " + std::to_string(box_inner) +
                             ": the base must be 16-byte aligned, the row pitch a multiple of 16 bytes, the box at "
                             "most 256 rows of at most 128 bytes");
  return map;
}

CUtensorMap encode_bshd_sw128(const void* base, CUtensorMapDataType type, std::uint64_t element_bytes,
                              const char* type_name, std::uint64_t batch, std::uint64_t seq, std::uint64_t heads,
                              std::uint64_t head_dim, std::uint32_t box_dims, std::uint32_t box_rows) {
  CUtensorMap map{};
  const cuuint64_t dims[4] = {head_dim, heads, seq, batch};
  // Bytes between consecutive heads, positions and batches (dimension 0 is contiguous).
  const cuuint64_t strides[3] = {head_dim * element_bytes, heads * head_dim * element_bytes,
                                 seq * heads * head_dim * element_bytes};
  const cuuint32_t box[4] = {box_dims, 1, box_rows, 1};
  const cuuint32_t element_strides[4] = {1, 1, 1, 1};
  const CUresult r = encode_tiled()(&map, type, 4, const_cast<void*>(base), dims, strides, box, element_strides,
                                    CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                                    CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    throw std::runtime_error("cuTensorMapEncodeTiled failed (CUresult " + std::to_string(int(r)) + ") for a (" +
                             std::to_string(batch) + ", " + std::to_string(seq) + ", " + std::to_string(heads) +
                             ", " + std::to_string(head_dim) + ") " + type_name + " tensor in boxes of " +
                             std::to_string(box_rows) + " rows x " + std::to_string(box_dims) +
                             ": the base must be 16-byte aligned, a row of head_dim 16-byte aligned, the box at most "
                             "256 rows of at most 128 bytes");
  return map;
}

}  // namespace

CUtensorMap make_tensor_map_bf16_2d_sw128(const void* base, std::uint64_t inner, std::uint64_t outer,
                                          std::uint32_t box_inner, std::uint32_t box_outer) {
  return encode_2d_sw128(base, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, "BF16", inner, outer, box_inner, box_outer);
}

CUtensorMap make_tensor_map_f32_2d_sw128(const void* base, std::uint64_t inner, std::uint64_t outer,
                                         std::uint32_t box_inner, std::uint32_t box_outer) {
  return encode_2d_sw128(base, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 4, "FP32", inner, outer, box_inner, box_outer);
}

CUtensorMap make_tensor_map_bf16_bshd_sw128(const void* base, std::uint64_t batch, std::uint64_t seq,
                                            std::uint64_t heads, std::uint64_t head_dim, std::uint32_t box_dims,
                                            std::uint32_t box_rows) {
  return encode_bshd_sw128(base, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, "BF16", batch, seq, heads, head_dim, box_dims,
                           box_rows);
}

CUtensorMap make_tensor_map_f32_bshd_sw128(const void* base, std::uint64_t batch, std::uint64_t seq,
                                           std::uint64_t heads, std::uint64_t head_dim, std::uint32_t box_dims,
                                           std::uint32_t box_rows) {
  return encode_bshd_sw128(base, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 4, "FP32", batch, seq, heads, head_dim, box_dims,
                           box_rows);
}

}  // namespace trainbench::kernels
