// GPU tests skip, with the reason, where no usable GPU is present; they never pass there.
#pragma once
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#define TB_REQUIRE_GPU()                                                                       \
  do {                                                                                         \
    int tb_count_ = 0;                                                                         \
    const cudaError_t tb_status_ = cudaGetDeviceCount(&tb_count_);                             \
    if (tb_status_ != cudaSuccess || tb_count_ == 0) {                                         \
      cudaGetLastError();                                                                      \
      GTEST_SKIP() << "no usable GPU: "                                                        \
                   << (tb_status_ != cudaSuccess ? cudaGetErrorString(tb_status_)              \
                                                 : "no CUDA-capable device is detected");      \
    }                                                                                          \
  } while (0)
