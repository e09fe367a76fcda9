// attention.cudnn as a build that found no cuDNN or no cuDNN frontend headers has it
// (bench/cudnn_attention_missing.cpp, compiled here in every build with a reason of the test's
// own): it says what is missing, and refuses to be made, with that reason.
#include <gtest/gtest.h>

#include <string>

#include "bench/cudnn_attention.hpp"
#include "harness/error.hpp"

namespace trainbench {
namespace {

TEST(CudnnMissing, SaysWhatIsMissingAndRefusesToBeMade) {
  const std::string why = TRAINBENCH_CUDNN_MISSING;
  EXPECT_EQ(cudnn_attention_missing(), why);
  const Attention op{.batch = 1, .heads_q = 8, .heads_kv = 1, .seq_q = 300, .seq_kv = 300, .head_dim = 128,
                     .causal = true, .pass = "bwd"};
  try {
    CudnnAttention cudnn(op);
    ADD_FAILURE() << "made without cuDNN: " << cudnn.versions();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    EXPECT_EQ(e.code(), kExitUsage);
  }
}

}  // namespace
}  // namespace trainbench
