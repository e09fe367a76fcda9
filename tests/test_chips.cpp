// The chip spec table: every value sourced, device names matched to the right sheet.
#include <gtest/gtest.h>

#include "harness/chips.hpp"
#include "harness/error.hpp"

namespace trainbench {
namespace {

TEST(ChipTable, BuiltinTableParsesAndCoversTheChipsTheIssueNames) {
  const auto& t = ChipTable::builtin();
  for (const char* id : {"h100-sxm", "h100-pcie", "h100-nvl", "h800-sxm", "h20", "h200-sxm", "a100-sxm-80gb", "l40s",
                         "b200", "gb200", "b300", "gb300", "mi300x", "mi325x", "mi355x", "ascend-910b", "ascend-910c",
                         "gaudi3"}) {
    const ChipSpec& c = t.by_id(id);
    EXPECT_TRUE(c.bf16_dense_tflops.has_value()) << id;
    EXPECT_TRUE(c.hbm_tbps.has_value()) << id;
    EXPECT_TRUE(c.memory_gb.has_value()) << id;
    // Huawei publishes no TDP for the Ascend parts; the table leaves it empty rather than guess.
    if (c.vendor != "Huawei") {
      EXPECT_TRUE(c.tdp_w.has_value()) << id;
    }
  }
}

TEST(ChipTable, MatchesCudaDeviceNamesByTheLongestSubstring) {
  const auto& t = ChipTable::builtin();
  auto id = [&](const char* name) {
    const ChipSpec* c = t.match(name);
    return c ? c->id : std::string("none");
  };
  EXPECT_EQ(id("NVIDIA H100 80GB HBM3"), "h100-sxm");
  EXPECT_EQ(id("NVIDIA H100 PCIe"), "h100-pcie");
  EXPECT_EQ(id("NVIDIA H200"), "h200-sxm");  // not "h20", a substring of it
  EXPECT_EQ(id("NVIDIA H20"), "h20");
  EXPECT_EQ(id("NVIDIA H800"), "h800-sxm");
  EXPECT_EQ(id("NVIDIA A100-SXM4-80GB"), "a100-sxm-80gb");
  EXPECT_EQ(id("NVIDIA A100-SXM4-40GB"), "a100-sxm-40gb");
  EXPECT_EQ(id("NVIDIA GB200"), "gb200");  // not "b200"
  EXPECT_EQ(id("NVIDIA GH200 480GB"), "gh200");  // not "h200-sxm": another memory
  EXPECT_EQ(id("NVIDIA GH200 144G HBM3e"), "gh200-144g");
  EXPECT_EQ(id("NVIDIA B200"), "b200");
  EXPECT_EQ(id("NVIDIA H100 NVL"), "h100-nvl");  // not "h100-pcie": another card
  EXPECT_EQ(id("NVIDIA L40S"), "l40s");
  EXPECT_EQ(id("NVIDIA B300 SXM6 AC"), "b300");
  EXPECT_EQ(id("NVIDIA GB300"), "gb300");  // not "b300"
  EXPECT_EQ(id("nvidia h100 80gb hbm3"), "h100-sxm");  // case-insensitive
  EXPECT_EQ(id("NVIDIA GeForce RTX 4090"), "none");
}

TEST(ChipTable, UnknownIdNamesTheKnownOnes) {
  try {
    ChipTable::builtin().by_id("h300");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("h100-sxm"), std::string::npos) << e.what();
    EXPECT_EQ(e.code(), kExitUsage);
  }
}

TEST(ChipTable, AValueWithoutASourceIsRejected) {
  const char* text = R"({"chips": [{"id": "x", "name": "X", "bf16_dense_tflops": 100, "sources": {}}]})";
  try {
    ChipTable::parse(text, "test.json");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("test.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("bf16_dense_tflops"), std::string::npos) << msg;
  }
}

TEST(ChipTable, MalformedJsonNamesTheFile) {
  try {
    ChipTable::parse("{\"chips\": [", "broken.json");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.json"), std::string::npos) << e.what();
  }
}

TEST(ChipTable, SpecRoundTripsThroughJson) {
  const ChipSpec& c = ChipTable::builtin().by_id("h100-sxm");
  const nlohmann::ordered_json j = c;
  const ChipSpec back = nlohmann::json::parse(j.dump()).get<ChipSpec>();
  EXPECT_EQ(nlohmann::ordered_json(back).dump(), j.dump());
}

}  // namespace
}  // namespace trainbench
