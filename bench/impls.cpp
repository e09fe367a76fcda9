#include "bench/impls.hpp"

namespace trainbench {

void register_all_impls() {
  static const bool done = [] {
    register_memory_impls(registry());
    register_gemm_impls(registry());
    register_quant_impls(registry());
    register_fp8_impls(registry());
    register_int8_impls(registry());
    register_attention_impls(registry());
    return true;
  }();
  (void)done;
}

}  // namespace trainbench
