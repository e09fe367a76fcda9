// Errors that end a command, each with the exit code it maps to.
#pragma once
#include <stdexcept>
#include <string>

#include <cuda_runtime_api.h>

namespace trainbench {

// Exit codes of every trainbench command (documented in README.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitCheckFailed = 1,  // a verification or a regression check failed
  kExitUsage = 2,        // bad usage, bad input file, or the environment lacks something
  kExitHung = 3,         // a benchmark or test did not finish in time (HangWatchdog); the process ended
};

// An error a user can act on: the message says what was wrong and what would work.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, ExitCode code = kExitUsage)
      : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

// Throws Error naming the failed call and CUDA's reason.
void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line);

}  // namespace trainbench

#define TB_CUDA_CHECK(call)                                                          \
  do {                                                                               \
    const cudaError_t tb_status_ = (call);                                           \
    if (tb_status_ != cudaSuccess)                                                   \
      ::trainbench::throw_cuda_error(tb_status_, #call, __FILE__, __LINE__);         \
  } while (0)
