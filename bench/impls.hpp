// Every impl the program knows, registered once. Adding an impl: write its file, add one line
// to register_all_impls().
#pragma once
#include "harness/registry.hpp"

namespace trainbench {

void register_attention_impls(Registry& r);
void register_fp8_impls(Registry& r);
void register_gemm_impls(Registry& r);
void register_int8_impls(Registry& r);
void register_memory_impls(Registry& r);
void register_quant_impls(Registry& r);

// Idempotent: fills registry() on the first call.
void register_all_impls();

}  // namespace trainbench
