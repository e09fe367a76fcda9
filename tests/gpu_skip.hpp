// GPU tests skip, with the reason, where no usable GPU is present; they never pass there.
#pragma once
#include <gtest/gtest.h>

#include "harness/device.hpp"

#define TB_REQUIRE_GPU()                                                                  \
  do {                                                                                    \
    if (const std::string tb_why_ = ::trainbench::gpu_unavailable_reason(); !tb_why_.empty()) \
      GTEST_SKIP() << "no usable GPU: " << tb_why_;                                       \
  } while (0)
