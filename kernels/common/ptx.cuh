// PTX wrappers for the sm_80 tensor-core path: cp.async, ldmatrix, mma.sync.
// Destination first, as in the instructions themselves. Shared-memory operands are 32-bit
// shared-window addresses (smem_addr), which is what the instructions take.
#pragma once
#include <cstdint>

namespace trainbench::kernels::ptx {

__device__ __forceinline__ std::uint32_t smem_addr(const void* p) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, bypassing L1 (.cg). When `valid` is false nothing is read and the
// 16 bytes are zero-filled (src-size 0): out-of-bounds chunks of a tile contribute zeros.
__device__ __forceinline__ void cp_async_16(std::uint32_t dst, const void* src, bool valid) {
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes) : "memory");
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

// Waits until at most `kPending` committed groups are still in flight (this thread's copies only:
// a __syncthreads() must follow before other threads read them).
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

// Four 8x8 b16 matrices; lanes 8q..8q+7 give the row addresses of matrix q, and d[q] receives
// this lane's two elements of matrix q (row lane/4, columns 2(lane%4), +1).
__device__ __forceinline__ void ldmatrix_x4(std::uint32_t (&d)[4], std::uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
               : "r"(addr));
}

// As ldmatrix_x4, each matrix transposed: d[q] holds (rows 2(lane%4), +1; column lane/4).
__device__ __forceinline__ void ldmatrix_x4_trans(std::uint32_t (&d)[4], std::uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
               : "r"(addr));
}

// d += a . b for one m16n8k16 tile: BF16 a (16x16, row-major fragment), b (16x8, column
// fragment), FP32 accumulators d.
__device__ __forceinline__ void mma_m16n8k16_bf16(float (&d)[4], const std::uint32_t (&a)[4],
                                                  const std::uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// d += a . b for one m16n8k32 tile: s8 a (16x32, row fragment), b (32x8, column fragment), s32
// accumulators d (wrapping, no saturation). In bytes the fragments are those of the BF16
// m16n8k16 above (4 consecutive k per register where BF16 has 2), so ldmatrix_x4 loads both.
__device__ __forceinline__ void mma_m16n8k32_s8(int (&d)[4], const std::uint32_t (&a)[4],
                                                const std::uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// 2^x on the SFU (MUFU.EX2), subnormals flushed; ex2(-inf) = +0, which masked scores rely on.
__device__ __forceinline__ float ex2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// x, through an instruction the compiler cannot see past. A kernel that re-reads a loop-invariant
// base address this way at the top of each iteration makes the addresses derived from it
// recomputed there (a few integer ops) instead of hoisted out of the loop, where dozens of them
// would hold registers the accumulators need for the whole loop.
__device__ __forceinline__ std::uint32_t opaque(std::uint32_t x) {
  asm volatile("mov.b32 %0, %0;\n" : "+r"(x));
  return x;
}

// Two FP32 values rounded to BF16 and packed as one mma operand register: `lo` in bits 0-15
// (the lower column), `hi` in bits 16-31 (cvt puts its first source in the upper half).
__device__ __forceinline__ std::uint32_t pack_bf16x2(float lo, float hi) {
  std::uint32_t d;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(d) : "f"(hi), "f"(lo));
  return d;
}

// The two BF16 halves of a pack_bf16x2 pair, as FP32 (low half in x).
__device__ __forceinline__ float2 unpack_bf16x2(std::uint32_t packed) {
  return make_float2(__uint_as_float(packed << 16), __uint_as_float(packed & 0xFFFF0000u));
}

}  // namespace trainbench::kernels::ptx
