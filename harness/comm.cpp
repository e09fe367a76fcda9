#include "harness/comm.hpp"

namespace trainbench {
namespace {

// (n-1)/n of the buffer crosses each rank's link, in n-1 latency-bound steps.
double ring_s(double bytes, int ranks, const Link& link, double passes) {
  if (ranks <= 1 || bytes <= 0) return 0.0;
  const double n = ranks;
  return passes * ((n - 1) / n * bytes / link.bytes_per_s() + (n - 1) * link.latency_s);
}

}  // namespace

double all_reduce_s(double bytes, int ranks, const Link& link) { return ring_s(bytes, ranks, link, 2.0); }
double reduce_scatter_s(double bytes, int ranks, const Link& link) { return ring_s(bytes, ranks, link, 1.0); }
double all_gather_s(double bytes, int ranks, const Link& link) { return ring_s(bytes, ranks, link, 1.0); }
double all_to_all_s(double bytes, int ranks, const Link& link) { return ring_s(bytes, ranks, link, 1.0); }
double p2p_s(double bytes, const Link& link) {
  return bytes <= 0 ? 0.0 : bytes / link.bytes_per_s() + link.latency_s;
}

}  // namespace trainbench
