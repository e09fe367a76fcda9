// The compiled kernels hold the instructions they were written for, and no local memory: the
// SASS of the built kernels library, disassembled by cuobjdump (scripts/install-deps.sh installs
// it from PyPI's nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm where the toolkit lacks it).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  char buf[1 << 16];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  pclose(pipe);
  return out;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The first folder holding both cuobjdump and the nvdisasm it runs: $CUOBJDUMP's, PATH's, the
// toolkit's, then the PyPI packages' (nvidia/cu*/bin). Empty when there is none.
std::string cuobjdump_dir() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("CUOBJDUMP")) candidates.push_back(fs::path(env).parent_path());
  candidates.push_back(fs::path(trim(run("command -v cuobjdump 2>/dev/null"))).parent_path());
  candidates.push_back("/usr/local/cuda/bin");
  candidates.push_back(trim(run(
      "python3 -c \"import glob, os, nvidia; print(next((os.path.dirname(f) for p in nvidia.__path__ "
      "for f in glob.glob(os.path.join(p, '*', 'bin', 'cuobjdump'))), ''))\" 2>/dev/null")));
  for (const auto& dir : candidates)
    if (!dir.empty() && fs::exists(fs::path(dir) / "cuobjdump") && fs::exists(fs::path(dir) / "nvdisasm")) return dir;
  return "";
}

// SASS per (arch, mangled kernel name).
using Sass = std::map<std::pair<std::string, std::string>, std::string>;

struct Disassembly {
  Sass sass;
  std::string error;  // why there is none
};

const Disassembly& kernels_sass() {
  static const Disassembly d = [] {
    Disassembly out;
    const std::string dir = cuobjdump_dir();
    if (dir.empty()) {
      out.error = "no folder holds both cuobjdump and nvdisasm (looked at $CUOBJDUMP's, PATH's, /usr/local/cuda/bin "
                  "and the PyPI packages nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm): run scripts/install-deps.sh";
      return out;
    }
    const std::string text = run("PATH='" + dir + "':\"$PATH\" cuobjdump -sass '" TRAINBENCH_KERNELS_LIB "' 2>&1");
    std::istringstream lines(text);
    std::string line, arch, function;
    static const std::regex arch_line(R"(^arch = (sm_\w+))"), function_line(R"(^\s*Function : (\S+))");
    std::smatch m;
    while (std::getline(lines, line)) {
      if (std::regex_search(line, m, arch_line)) {
        arch = m[1];
        function.clear();
      } else if (std::regex_search(line, m, function_line)) {
        function = m[1];
      } else if (!function.empty()) {
        out.sass[{arch, function}] += line + "\n";
      }
    }
    if (out.sass.empty()) out.error = "cuobjdump gave no SASS for " TRAINBENCH_KERNELS_LIB ":\n" + text.substr(0, 2000);
    return out;
  }();
  return d;
}

// The kernels whose mangled name contains `name`, per arch.
std::map<std::string, int> count_by_arch(const std::string& name) {
  std::map<std::string, int> n;
  for (const auto& [key, body] : kernels_sass().sass)
    if (key.second.find(name) != std::string::npos) ++n[key.first];
  return n;
}

void expect_instruction_in_every(const std::string& kernel, const std::string& instruction, const std::string& arch) {
  int seen = 0;
  for (const auto& [key, body] : kernels_sass().sass) {
    if (key.first != arch || key.second.find(kernel) == std::string::npos) continue;
    ++seen;
    EXPECT_NE(body.find(instruction), std::string::npos) << key.second << " (" << arch << ") has no " << instruction;
  }
  EXPECT_GT(seen, 0) << "no " << kernel << " kernel for " << arch << " in " TRAINBENCH_KERNELS_LIB;
}

#define TB_REQUIRE_SASS() ASSERT_TRUE(kernels_sass().error.empty()) << kernels_sass().error

TEST(Sass, EveryGemmKernelIsBuiltForSm80AndSm90a) {
  TB_REQUIRE_SASS();
  for (const char* kernel : {"gemm_reference_kernel", "gemm_simt_kernel", "gemm_mma_sm80_kernel"}) {
    const auto n = count_by_arch(kernel);
    // Three layouts times two output types; the mma kernel in two tile configurations.
    const int want = std::string(kernel) == "gemm_mma_sm80_kernel" ? 12 : 6;
    EXPECT_EQ(n.count("sm_80") ? n.at("sm_80") : 0, want) << kernel;
    EXPECT_EQ(n.count("sm_90a") ? n.at("sm_90a") : 0, want) << kernel;
  }
}

TEST(Sass, MmaKernelRunsOnTensorCoresFedByLdmatrixAndCpAsync) {
  TB_REQUIRE_SASS();
  for (const char* arch : {"sm_80", "sm_90a"}) {
    expect_instruction_in_every("gemm_mma_sm80_kernel", "HMMA.16816.F32.BF16", arch);
    expect_instruction_in_every("gemm_mma_sm80_kernel", "LDSM.16.", arch);
    expect_instruction_in_every("gemm_mma_sm80_kernel", "LDGSTS.E.BYPASS.128", arch);
  }
  // 128 accumulators per thread in the 128x256 configuration: all in registers.
  static const std::regex local(R"(\b(LDL|STL)(\.\w+)*\s)");
  for (const auto& [key, body] : kernels_sass().sass) {
    if (key.second.find("gemm_mma_sm80_kernel") == std::string::npos) continue;
    std::smatch m;
    EXPECT_FALSE(std::regex_search(body, m, local)) << key.second << " (" << key.first << ") uses local memory: " << m.str();
  }
}

TEST(Sass, HopperGemmKernelsAreBuiltForSm90a) {
  TB_REQUIRE_SASS();
  for (const char* kernel : {"gemm_wgmma_tma_kernel", "gemm_wgmma_ws_kernel", "gemm_wgmma_cluster_kernel"}) {
    const auto n = count_by_arch(kernel);
    // three layouts times two outputs; version 5 at two tile widths (5 and 5b)
    EXPECT_EQ(n.count("sm_90a") ? n.at("sm_90a") : 0, std::string(kernel) == "gemm_wgmma_cluster_kernel" ? 12 : 6)
        << kernel;
  }
}

TEST(Sass, WgmmaKernelsRunOnHgmmaFedByTmaAndMbarriers) {
  TB_REQUIRE_SASS();
  expect_instruction_in_every("gemm_wgmma_tma_kernel", "HGMMA.64x128x16.F32.BF16", "sm_90a");
  expect_instruction_in_every("gemm_wgmma_ws_kernel", "HGMMA.64x256x16.F32.BF16", "sm_90a");
  for (const char* kernel : {"gemm_wgmma_tma_kernel", "gemm_wgmma_ws_kernel"}) {
    expect_instruction_in_every(kernel, "UTMALDG.2D", "sm_90a");                // TMA loads
    expect_instruction_in_every(kernel, "SYNCS.PHASECHK.TRANS64.TRYWAIT", "sm_90a");  // mbarrier waits
  }
  // The producer warpgroup gives registers back, the consumers take them.
  expect_instruction_in_every("gemm_wgmma_ws_kernel", "USETMAXREG.DEALLOC", "sm_90a");
  expect_instruction_in_every("gemm_wgmma_ws_kernel", "USETMAXREG.TRY_ALLOC", "sm_90a");
}

// gemm.wgmma (version 5): multicast TMA loads, cluster barriers, the stmatrix (BF16 output) and
// TMA-store epilogue. The consumers' remote "stage free" arrivals sit in the k-loop: a GPU-scope
// fence there (what mbarrier.arrive.release.cluster compiles to) would stall every k-tile, so
// the only MEMBAR.ALL.GPU allowed are the two of the cluster barriers at start and exit.
TEST(Sass, ClusterGemmKernelMulticastsLoadsAndStoresThroughStmatrixAndTma) {
  TB_REQUIRE_SASS();
  const std::string kernel = "gemm_wgmma_cluster_kernel";
  expect_instruction_in_every(kernel, "UTMALDG.2D.MULTICAST", "sm_90a");
  expect_instruction_in_every(kernel, "UTMASTG.2D", "sm_90a");
  expect_instruction_in_every(kernel, "UCGABAR_ARV", "sm_90a");
  expect_instruction_in_every(kernel, "UCGABAR_WAIT", "sm_90a");
  expect_instruction_in_every(kernel, "SYNCS.PHASECHK.TRANS64.TRYWAIT", "sm_90a");
  expect_instruction_in_every(kernel, "USETMAXREG.DEALLOC", "sm_90a");
  expect_instruction_in_every(kernel, "USETMAXREG.TRY_ALLOC", "sm_90a");
  int bf16_out = 0;
  for (const auto& [key, body] : kernels_sass().sass) {
    if (key.first != "sm_90a" || key.second.find(kernel) == std::string::npos) continue;
    const bool bf16 = key.second.find("13__nv_bfloat16") != std::string::npos;  // OutT (no parameter is BF16)
    bf16_out += bf16;
    // The tile width, the last template argument: wgmma N = 256 (gemm.wgmma) or 128 (5b).
    const bool wide = key.second.find("ClusterTilesILi256E") != std::string::npos;
    EXPECT_TRUE(wide || key.second.find("ClusterTilesILi128E") != std::string::npos) << key.second;
    EXPECT_NE(body.find(wide ? "HGMMA.64x256x16.F32.BF16" : "HGMMA.64x128x16.F32.BF16"), std::string::npos)
        << key.second;
    // BF16 output is staged with stmatrix; FP32 output with plain 8-byte shared stores.
    EXPECT_EQ(body.find("STSM.16.M88.4") != std::string::npos, bf16) << key.second;
    std::size_t fences = 0;
    for (std::size_t at = body.find("MEMBAR.ALL.GPU"); at != std::string::npos; at = body.find("MEMBAR.ALL.GPU", at + 1))
      ++fences;
    EXPECT_LE(fences, 2u) << key.second;
  }
  EXPECT_EQ(bf16_out, 6) << "three layouts with BF16 output, at two tile widths";
}

// Serialized wgmma shows in the SASS as every HGMMA waiting on its own group (", gsb0" on each,
// a WARPGROUP.DEPBAR after each). The kernels issue four per k-tile and wait on the last only.
TEST(Sass, WgmmaKernelsKeepHgmmaInFlight) {
  TB_REQUIRE_SASS();
  static const std::regex hgmma(R"([HQI]GMMA\.[^;]*;)");  // QGMMA: the FP8 kernel; IGMMA: the INT8 one
  for (const auto& [key, body] : kernels_sass().sass) {
    if (key.first != "sm_90a" || key.second.find("gemm_wgmma") == std::string::npos) continue;
    int all = 0, waiting = 0;
    for (auto it = std::sregex_iterator(body.begin(), body.end(), hgmma); it != std::sregex_iterator(); ++it) {
      ++all;
      waiting += it->str().find("gsb0") != std::string::npos;
    }
    EXPECT_GE(all, 4) << key.second;
    EXPECT_LE(4 * waiting, all) << key.second << ": " << waiting << " of " << all << " HGMMA wait on their own group";
  }
}

// fp8gemm.wgmma, its overlapped schedule and its no-promotion twin (two output types each), and
// the scaled-GEMM oracle. No kernel's QGMMAs are serialized (a QGMMA waiting on its own group,
// gsb0, at most once per k-block's four), and the overlapped schedule really keeps a k-block in
// flight while it promotes: it waits with WARPGROUP.DEPBAR.LE gsb0, 0x1.
TEST(Sass, Fp8WgmmaKernelRunsOnQgmmaFedByTmaWithoutLocalMemory) {
  TB_REQUIRE_SASS();
  const auto n = count_by_arch("fp8_gemm_wgmma_kernel");
  EXPECT_EQ(n.count("sm_90a") ? n.at("sm_90a") : 0, 6);
  expect_instruction_in_every("fp8_gemm_wgmma_kernel", "QGMMA.64x128x32.F32.E4M3.E4M3", "sm_90a");
  expect_instruction_in_every("fp8_gemm_wgmma_kernel", "UTMALDG.2D", "sm_90a");
  expect_instruction_in_every("fp8_gemm_wgmma_kernel", "SYNCS.PHASECHK.TRANS64.TRYWAIT", "sm_90a");
  expect_instruction_in_every("fp8_gemm_wgmma_kernel", "USETMAXREG.DEALLOC", "sm_90a");
  expect_instruction_in_every("fp8_gemm_wgmma_kernel", "USETMAXREG.TRY_ALLOC", "sm_90a");
  static const std::regex local(R"(\b(LDL|STL)(\.\w+)*\s)");
  static const std::regex qgmma(R"(QGMMA\.[^;]*;)");
  int checked = 0, overlapped = 0, bf16 = 0;
  for (const auto& [key, body] : kernels_sass().sass) {
    if (key.second.find("fp8_gemm_wgmma_kernel") == std::string::npos &&
        key.second.find("scaled_matmul_oracle_kernel") == std::string::npos)
      continue;
    ++checked;
    std::smatch m;
    EXPECT_FALSE(std::regex_search(body, m, local)) << key.second << " (" << key.first << ") uses local memory: " << m.str();
    if (key.second.find("fp8_gemm_wgmma_kernel") == std::string::npos || key.first != "sm_90a") continue;
    int all = 0, waiting = 0;
    for (auto it = std::sregex_iterator(body.begin(), body.end(), qgmma); it != std::sregex_iterator(); ++it) {
      ++all;
      waiting += it->str().find("gsb0") != std::string::npos;
    }
    EXPECT_LE(4 * waiting, all) << key.second << ": " << waiting << " of " << all << " QGMMA wait on their own group";
    // BF16 output (the template argument mangles as 13__nv_bfloat16): the epilogue stages the
    // transposed accumulators with stmatrix .trans (STSM...MT88) and stores them by TMA.
    if (key.second.find("13__nv_bfloat16") != std::string::npos) {
      ++bf16;
      EXPECT_NE(body.find("STSM.16.MT88.4"), std::string::npos) << key.second << ": no transposed stmatrix";
      EXPECT_NE(body.find("UTMASTG.2D"), std::string::npos) << key.second << ": no TMA store";
    }
    // PromotionSchedule::Overlapped is enumerator 2 in the mangled template argument.
    if (key.second.find("PromotionScheduleE2E") != std::string::npos) {
      ++overlapped;
      EXPECT_NE(body.find("WARPGROUP.DEPBAR.LE gsb0, 0x1"), std::string::npos)
          << key.second << ": no wait that leaves a k-block in flight";
    }
  }
  EXPECT_GE(checked, 6 + 2);
  EXPECT_EQ(overlapped, 2) << "the overlapped schedule, BF16 and FP32 outputs";
  EXPECT_EQ(bf16, 3) << "BF16 output in each promotion schedule";
}

// fp8gemm.wgmma_multicast (two output types): QGMMA fed by multicast TMA loads of a, cluster
// barriers at start and exit, the register split, no local memory; as in version 5, the remote
// "stage free" arrivals in the k-loop must not bring a GPU-scope fence (two MEMBAR.ALL.GPU at most,
// the cluster barriers').
TEST(Sass, Fp8WgmmaMulticastKernelMulticastsAOnQgmmaWithoutLocalMemory) {
  TB_REQUIRE_SASS();
  const std::string kernel = "fp8_gemm_wgmma_multicast_kernel";
  const auto n = count_by_arch(kernel);
  EXPECT_EQ(n.count("sm_90a") ? n.at("sm_90a") : 0, 2);
  expect_instruction_in_every(kernel, "QGMMA.64x128x32.F32.E4M3.E4M3", "sm_90a");
  expect_instruction_in_every(kernel, "UTMALDG.2D.MULTICAST", "sm_90a");
  expect_instruction_in_every(kernel, "UCGABAR_ARV", "sm_90a");
  expect_instruction_in_every(kernel, "UCGABAR_WAIT", "sm_90a");
  expect_instruction_in_every(kernel, "SYNCS.PHASECHK.TRANS64.TRYWAIT", "sm_90a");
  expect_instruction_in_every(kernel, "USETMAXREG.DEALLOC", "sm_90a");
  expect_instruction_in_every(kernel, "USETMAXREG.TRY_ALLOC", "sm_90a");
  static const std::regex local(R"(\b(LDL|STL)(\.\w+)*\s)");
  int checked = 0;
  for (const auto& [key, body] : kernels_sass().sass) {
    if (key.second.find(kernel) == std::string::npos) continue;
    ++checked;
    std::smatch m;
    EXPECT_FALSE(std::regex_search(body, m, local)) << key.second << " (" << key.first << ") uses local memory: " << m.str();
    // The overlapped promotion of fp8_consumer_mainloop: a k-block left in flight while the last is promoted.
    if (key.first == "sm_90a") {
      EXPECT_NE(body.find("WARPGROUP.DEPBAR.LE gsb0, 0x1"), std::string::npos) << key.second;
    }
    std::size_t fences = 0;
    for (std::size_t at = body.find("MEMBAR.ALL.GPU"); at != std::string::npos; at = body.find("MEMBAR.ALL.GPU", at + 1))
      ++fences;
    EXPECT_LE(fences, 2u) << key.second;
  }
  EXPECT_GE(checked, 2);
}

// int8gemm.mma: one instance per arch, on IMMA fed by ldmatrix and cp.async, no local memory
// (64 s32 accumulators per thread must stay in registers). Named apart from gemm_mma_sm80_kernel,
// whose tests above expect HMMA in every kernel that matches.
TEST(Sass, Int8MmaKernelRunsOnImmaFedByLdmatrixAndCpAsyncWithoutLocalMemory) {
  TB_REQUIRE_SASS();
  const auto n = count_by_arch("int8_gemm_imma_kernel");
  static const std::regex local(R"(\b(LDL|STL)(\.\w+)*\s)");
  for (const char* arch : {"sm_80", "sm_90a"}) {
    EXPECT_EQ(n.count(arch) ? n.at(arch) : 0, 1) << arch;
    expect_instruction_in_every("int8_gemm_imma_kernel", "IMMA.16832.S8.S8", arch);
    expect_instruction_in_every("int8_gemm_imma_kernel", "LDSM.16.M88.4", arch);
    expect_instruction_in_every("int8_gemm_imma_kernel", "LDGSTS.E.BYPASS.128", arch);
  }
  for (const auto& [key, body] : kernels_sass().sass) {
    if (key.second.find("int8_gemm_imma_kernel") == std::string::npos) continue;
    std::smatch m;
    EXPECT_FALSE(std::regex_search(body, m, local)) << key.second << " (" << key.first << ") uses local memory: " << m.str();
  }
}

// int8gemm.wgmma: one instance, on IGMMA fed by TMA through the mbarrier ring, the register split,
// BF16 output staged by stmatrix .trans and stored by TMA, one k-block left in flight while the
// one before is handed back (WARPGROUP.DEPBAR.LE gsb0, 0x1), no local memory.
TEST(Sass, Int8WgmmaKernelRunsOnIgmmaFedByTmaWithoutLocalMemory) {
  TB_REQUIRE_SASS();
  const std::string kernel = "int8_gemm_wgmma_kernel";
  const auto n = count_by_arch(kernel);
  EXPECT_EQ(n.count("sm_90a") ? n.at("sm_90a") : 0, 1);
  for (const char* instruction :
       {"IGMMA.64x128x32.S8.S8", "UTMALDG.2D", "UTMASTG.2D", "STSM.16.MT88.4", "SYNCS.PHASECHK.TRANS64.TRYWAIT",
        "USETMAXREG.DEALLOC", "USETMAXREG.TRY_ALLOC", "WARPGROUP.DEPBAR.LE gsb0, 0x1"})
    expect_instruction_in_every(kernel, instruction, "sm_90a");
  static const std::regex local(R"(\b(LDL|STL)(\.\w+)*\s)");
  for (const auto& [key, body] : kernels_sass().sass) {
    if (key.second.find(kernel) == std::string::npos) continue;
    std::smatch m;
    EXPECT_FALSE(std::regex_search(body, m, local)) << key.second << " (" << key.first << ") uses local memory: " << m.str();
  }
}

TEST(Sass, NoGemmKernelUsesLocalMemory) {
  TB_REQUIRE_SASS();
  static const std::regex local(R"(\b(LDL|STL)(\.\w+)*\s)");
  int checked = 0;
  for (const auto& [key, body] : kernels_sass().sass) {
    if (key.second.find("gemm") == std::string::npos) continue;
    ++checked;
    std::smatch m;
    EXPECT_FALSE(std::regex_search(body, m, local)) << key.second << " (" << key.first << ") uses local memory: " << m.str();
  }
  EXPECT_GT(checked, 0);
}

TEST(Sass, AttentionMmaKernelRunsOnTensorCoresFedByLdmatrixAndCpAsync) {
  TB_REQUIRE_SASS();
  for (const char* arch : {"sm_80", "sm_90a"}) {
    const auto n = count_by_arch("attention_fwd_mma_sm80_kernel");
    EXPECT_EQ(n.count(arch) ? n.at(arch) : 0, 4) << arch << ": one kernel per version (1, 1b) and head_dim (64, 128)";
    expect_instruction_in_every("attention_fwd_mma_sm80_kernel", "HMMA.16816.F32.BF16", arch);
    expect_instruction_in_every("attention_fwd_mma_sm80_kernel", "LDSM.16.M88.4", arch);
    expect_instruction_in_every("attention_fwd_mma_sm80_kernel", "LDSM.16.MT88.4", arch);
    expect_instruction_in_every("attention_fwd_mma_sm80_kernel", "LDGSTS.E.BYPASS.128", arch);
    expect_instruction_in_every("attention_fwd_mma_sm80_kernel", "MUFU.EX2", arch);
  }
}

TEST(Sass, AttentionBackwardMmaKernelRunsOnTensorCoresAndAddsDqWithRed) {
  TB_REQUIRE_SASS();
  for (const char* arch : {"sm_80", "sm_90a"}) {
    const auto main = count_by_arch("attention_bwd_mma_sm80_kernel");
    EXPECT_EQ(main.count(arch) ? main.at(arch) : 0, 4) << arch << ": one per key block (64, 128) and head_dim (64, 128)";
    const auto pre = count_by_arch("attention_bwd_preprocess_kernel");
    EXPECT_EQ(pre.count(arch) ? pre.at(arch) : 0, 2) << arch << ": one per head_dim (64, 128)";
    const auto convert = count_by_arch("attention_bwd_convert_kernel");
    EXPECT_EQ(convert.count(arch) ? convert.at(arch) : 0, 1) << arch;
    expect_instruction_in_every("attention_bwd_mma_sm80_kernel", "HMMA.16816.F32.BF16", arch);
    expect_instruction_in_every("attention_bwd_mma_sm80_kernel", "LDSM.16.M88.4", arch);
    expect_instruction_in_every("attention_bwd_mma_sm80_kernel", "LDSM.16.MT88.4", arch);
    expect_instruction_in_every("attention_bwd_mma_sm80_kernel", "LDGSTS.E.BYPASS.128", arch);
    expect_instruction_in_every("attention_bwd_mma_sm80_kernel", "MUFU.EX2", arch);
    // dQ's atomicAdd, its result unused: a reduction (RED on sm_80, REDG on sm_90a), not ATOM.
    expect_instruction_in_every("attention_bwd_mma_sm80_kernel", ".E.ADD.F32.FTZ.RN.STRONG.GPU", arch);
  }
}

// attention.fwd.wgmma: S = Q K^T with both operands from shared memory ("HGMMA R, gdesc[UR], R"),
// O += P V with P in registers and V transposed ("HGMMA R, R, gdesc[UR].tnspB, R"), TMA loads over
// 4-D maps, mbarrier waits, setmaxnreg both ways, the ping-pong's named-barrier hand-over
// (BAR.ARV), exp2 on the SFU; and the HGMMA of a group in flight, only the last waiting.
TEST(Sass, AttentionWgmmaForwardRunsOnHgmmaFedByTmaWithWarpSpecialization) {
  TB_REQUIRE_SASS();
  const std::string kernel = "attention_fwd_wgmma_sm90_kernel";
  const auto n = count_by_arch(kernel);
  EXPECT_EQ(n.count("sm_90a") ? n.at("sm_90a") : 0, 3)
      << "head_dim 64; head_dim 128 with 128-key blocks (causal) and 176-key blocks (not)";
  for (const char* instruction : {"UTMALDG.4D", "SYNCS.PHASECHK.TRANS64.TRYWAIT", "USETMAXREG.DEALLOC",
                                  "USETMAXREG.TRY_ALLOC", "BAR.ARV", "BAR.SYNC", "MUFU.EX2"})
    expect_instruction_in_every(kernel, instruction, "sm_90a");
  static const std::regex shared_a(R"(HGMMA\.64x(128|176)x16\.F32\.BF16 R\d+, gdesc\[UR\d+\][^;]*;)");
  static const std::regex register_a(R"(HGMMA\.64x(64|128)x16\.F32\.BF16 R\d+, R\d+, gdesc\[UR\d+\]\.tnspB[^;]*;)");
  static const std::regex hgmma(R"(HGMMA\.[^;]*;)");
  for (const auto& [key, body] : kernels_sass().sass) {
    if (key.first != "sm_90a" || key.second.find(kernel) == std::string::npos) continue;
    std::smatch m;
    EXPECT_TRUE(std::regex_search(body, m, shared_a)) << key.second << ": no HGMMA with A from shared memory (S)";
    EXPECT_TRUE(std::regex_search(body, m, register_a)) << key.second << ": no HGMMA with A in registers (P V)";
    int all = 0, waiting = 0;
    for (auto it = std::sregex_iterator(body.begin(), body.end(), hgmma); it != std::sregex_iterator(); ++it) {
      ++all;
      waiting += it->str().find("gsb0") != std::string::npos;
    }
    // Groups of 4 (S at head_dim 64) to 11 (P V over 176 keys) HGMMA, the last of each waiting.
    EXPECT_GE(all, 16) << key.second;
    EXPECT_LE(4 * waiting, all) << key.second << ": " << waiting << " of " << all << " HGMMA wait on their own group";
  }
}

// attention.bwd.wgmma: S^T and dP^T with both operands from shared memory, dV and dK with the A
// operand in registers and B transposed, dQ with both transposed (dS M-major, K N-major); TMA
// tile loads over 4-D maps, bulk copies of the LSE and D, dQ's TMA reduction (no atomics in
// the loop: the REDG are dK and dV under GQA, once per CTA); setmaxnreg both ways, named
// barriers, exp2 on the SFU.
TEST(Sass, AttentionWgmmaBackwardRunsOnHgmmaAndAddsDqByTmaReduction) {
  TB_REQUIRE_SASS();
  const std::string kernel = "attention_bwd_wgmma_sm90_kernel";
  const auto n = count_by_arch(kernel);
  EXPECT_EQ(n.count("sm_90a") ? n.at("sm_90a") : 0, 2) << "one kernel per head_dim (64, 128)";
  for (const char* instruction : {"UTMALDG.4D", "UBLKCP.S.G", "UTMAREDG.4D.ADD", "SYNCS.PHASECHK.TRANS64.TRYWAIT",
                                  "USETMAXREG.DEALLOC", "USETMAXREG.TRY_ALLOC", "BAR.SYNC", "MUFU.EX2"})
    expect_instruction_in_every(kernel, instruction, "sm_90a");
  static const std::regex shared_ab(R"(HGMMA\.64x(64|128)x16\.F32\.BF16 R\d+, gdesc\[UR\d+\], R)");
  static const std::regex register_a(R"(HGMMA\.64x(64|128)x16\.F32\.BF16 R\d+, R\d+, gdesc\[UR\d+\]\.tnspB)");
  static const std::regex both_transposed(R"(HGMMA\.64x64x16\.F32\.BF16 R\d+, gdesc\[UR\d+\]\.tnspA\.tnspB)");
  for (const auto& [key, body] : kernels_sass().sass) {
    if (key.first != "sm_90a" || key.second.find(kernel) == std::string::npos) continue;
    std::smatch m;
    EXPECT_TRUE(std::regex_search(body, m, shared_ab)) << key.second << ": no HGMMA from shared memory (S^T, dP^T)";
    EXPECT_TRUE(std::regex_search(body, m, register_a)) << key.second << ": no HGMMA with A in registers (dV, dK)";
    EXPECT_TRUE(std::regex_search(body, m, both_transposed)) << key.second << ": no HGMMA for dQ = dS K";
  }
}

// Registers per thread at launch, per (arch, mangled kernel name), from cuobjdump -res-usage.
std::map<std::pair<std::string, std::string>, int> launch_registers() {
  std::map<std::pair<std::string, std::string>, int> out;
  const std::string dir = cuobjdump_dir();
  if (dir.empty()) return out;
  const std::string text = run("PATH='" + dir + "':\"$PATH\" cuobjdump -res-usage '" TRAINBENCH_KERNELS_LIB "' 2>&1");
  std::istringstream lines(text);
  std::string line, arch, function;
  static const std::regex arch_line(R"(^arch = (sm_\w+))"), function_line(R"(^\s*Function (\S+):)"),
      reg_line(R"(^\s*REG:(\d+))");
  std::smatch m;
  while (std::getline(lines, line)) {
    if (std::regex_search(line, m, arch_line)) arch = m[1];
    else if (std::regex_search(line, m, function_line)) function = m[1];
    else if (std::regex_search(line, m, reg_line) && !function.empty()) out[{arch, function}] = std::stoi(m[1]);
  }
  return out;
}

// attention.fwd.wgmma's setmaxnreg split (24/240 with 384 threads, 32/160 with 512) assumes the
// launch gives each thread 65536 / threads registers (168, 128): setmaxnreg.inc waits until the
// producer has given back what the consumers take, so a kernel launched with fewer would hang.
TEST(Sass, AttentionWgmmaForwardLaunchesWithTheRegistersItsSetmaxnregSplitAssumes) {
  TB_REQUIRE_SASS();
  int checked = 0;
  for (const auto& [key, regs] : launch_registers()) {
    if (key.first != "sm_90a" || key.second.find("attention_fwd_wgmma_sm90_kernel") == std::string::npos) continue;
    ++checked;
    const bool d64 = key.second.find("ILi64E") != std::string::npos;
    EXPECT_EQ(regs, d64 ? 128 : 168) << key.second;
  }
  EXPECT_EQ(checked, 3) << "cuobjdump -res-usage lists no attention_fwd_wgmma_sm90_kernel for sm_90a";
}

// attention.bwd.wgmma: 384 threads at both head dims, 24/240, which needs 168 at launch.
TEST(Sass, AttentionWgmmaBackwardLaunchesWithTheRegistersItsSetmaxnregSplitAssumes) {
  TB_REQUIRE_SASS();
  int checked = 0;
  for (const auto& [key, regs] : launch_registers()) {
    if (key.first != "sm_90a" || key.second.find("attention_bwd_wgmma_sm90_kernel") == std::string::npos) continue;
    ++checked;
    EXPECT_EQ(regs, 168) << key.second;
  }
  EXPECT_EQ(checked, 2) << "cuobjdump -res-usage lists no attention_bwd_wgmma_sm90_kernel for sm_90a";
}

TEST(Sass, NoAttentionKernelUsesLocalMemory) {
  TB_REQUIRE_SASS();
  static const std::regex local(R"(\b(LDL|STL)(\.\w+)*\s)");
  int checked = 0;
  for (const auto& [key, body] : kernels_sass().sass) {
    if (key.second.find("attention") == std::string::npos) continue;
    ++checked;
    std::smatch m;
    EXPECT_FALSE(std::regex_search(body, m, local)) << key.second << " (" << key.first << ") uses local memory: " << m.str();
  }
  // The fused forwards and the wgmma backward (2 head dims each), the mma backward (main and
  // preprocessing kernels per head dim, one conversion) and the reference's 4 kernels (one
  // GQA-expanding conversion, one folding transpose, the softmax and its backward), on two
  // architectures (the sm_90a kernels are traps in the sm_80 pass, still checked).
  EXPECT_GE(checked, 2 * (2 + 2 + 2 + 5 + 4));
}

}  // namespace
