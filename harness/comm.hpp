// Collective communication time on one link class (scale-up NVLink-like, or scale-out NIC), with
// the bandwidth-optimal ring formulas NCCL's bus-bandwidth convention is built on
// (https://github.com/NVIDIA/nccl-tests/blob/master/doc/PERFORMANCE.md): for n ranks and a buffer
// of S bytes, all-reduce moves 2 (n-1)/n S per rank, reduce-scatter and all-gather (n-1)/n S,
// all-to-all (n-1)/n S, point-to-point S. Plus a per-step latency.
#pragma once
#include <string>

namespace trainbench {

struct Link {
  std::string name;            // "scale-up (NVLink 4)", "scale-out"
  double gbps = 0;             // per GPU, per direction, GB/s (1e9)
  double efficiency = 1;       // achieved fraction of gbps for large messages
  double latency_s = 0;        // per ring step
  double bytes_per_s() const { return gbps * 1e9 * efficiency; }
};

double all_reduce_s(double bytes, int ranks, const Link& link);
double reduce_scatter_s(double bytes, int ranks, const Link& link);  // bytes: the full (unscattered) buffer
double all_gather_s(double bytes, int ranks, const Link& link);      // bytes: the full (gathered) buffer
double all_to_all_s(double bytes, int ranks, const Link& link);      // bytes: what one rank exchanges in all
double p2p_s(double bytes, const Link& link);

}  // namespace trainbench
