// Op formulas: FLOPs and minimum bytes moved, labels, and the roof each op is judged against.
#include <gtest/gtest.h>

#include "harness/chips.hpp"
#include "harness/error.hpp"
#include "harness/ops.hpp"

namespace trainbench {
namespace {

TEST(CopyOp, MovesEachByteTwiceAndDoesNoMath) {
  const Op op = Copy{1ull << 30};
  EXPECT_EQ(op_family(op), "copy");
  EXPECT_DOUBLE_EQ(op_flops(op), 0.0);
  EXPECT_DOUBLE_EQ(op_bytes(op), 2.0 * (1ull << 30));
  EXPECT_EQ(op_roof(op), Roof::Memory);
  EXPECT_EQ(op_label(op), "bytes:1073741824");
}

TEST(CopyOp, ShapeRoundTrips) {
  const Op op = Copy{12345};
  const Op back = op_from_json("copy", op_shape(op));
  EXPECT_EQ(std::get<Copy>(back).bytes, 12345u);
}

TEST(Ops, UnknownFamilyAndMalformedShapeAreErrors) {
  EXPECT_THROW(op_from_json("conv", nlohmann::json::object()), Error);
  EXPECT_THROW(op_from_json("copy", nlohmann::json{{"size", 1}}), Error);
}

TEST(Ops, SpecPeakInTheOpsUnits) {
  const ChipSpec& h100 = ChipTable::builtin().by_id("h100-sxm");
  EXPECT_DOUBLE_EQ(*spec_peak(h100, Roof::Memory), 3350.0);  // TB/s -> GB/s
  EXPECT_DOUBLE_EQ(*spec_peak(h100, Roof::Bf16), *h100.bf16_dense_tflops);
  EXPECT_STREQ(roof_name(Roof::Memory), "hbm");
}

}  // namespace
}  // namespace trainbench
