#!/usr/bin/env bash
# Installs what trainbench needs to build and test, where it is missing: the Debian packages of
# its C++ dependencies (GoogleTest, Google Benchmark and its tools, spdlog, fmt, nlohmann-json,
# CLI11) and CMake; from PyPI, for the python3 on PATH, matplotlib (scripts/plot.py) and scipy
# (Google Benchmark's compare.py), cuobjdump and nvdisasm (the SASS tests), the cuDNN frontend's
# C++ headers (attention.cudnn).
# The CUDA toolkit (nvcc, cuBLAS, ...) is expected at /usr/local/cuda or on PATH.
set -euo pipefail

debs=(cmake g++ git
      libgtest-dev libgmock-dev libbenchmark-dev libbenchmark-tools libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

pips=(matplotlib scipy)
missing_py=()
for m in "${pips[@]}"; do
  python3 -c "import $m" 2>/dev/null || missing_py+=("$m")
done
if ((${#missing_py[@]})); then
  echo "installing from PyPI: ${missing_py[*]}"
  python3 -m pip install -q --disable-pip-version-check "${missing_py[@]}"
fi

# cuobjdump and the nvdisasm it runs (the SASS tests), from PyPI where the toolkit lacks them;
# tests/test_sass.cpp finds them in the packages' nvidia/cu*/bin.
pypi_tool() {
  python3 -c "import glob, nvidia, sys; sys.exit(not any(glob.glob(p + '/*/bin/$1') for p in nvidia.__path__))" 2>/dev/null
}
if ! { [ -x /usr/local/cuda/bin/cuobjdump ] && [ -x /usr/local/cuda/bin/nvdisasm ]; } &&
   ! { pypi_tool cuobjdump && pypi_tool nvdisasm; }; then
  echo "installing from PyPI: nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm"
  python3 -m pip install -q --disable-pip-version-check nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm
fi

# The cuDNN frontend's header-only C++ API (attention.cudnn), which CMake finds in the package's
# site-packages/include; --no-deps: the headers need none of its Python side's dependencies.
frontend_headers() {
  python3 -c "import os, site, sys, sysconfig
sites = (sysconfig.get_paths()['purelib'], site.getusersitepackages())
sys.exit(not any(os.path.isfile(p + '/include/cudnn_frontend.h') for p in sites))" 2>/dev/null
}
if ! frontend_headers; then
  echo "installing from PyPI: nvidia-cudnn-frontend (its C++ headers)"
  python3 -m pip install -q --disable-pip-version-check --no-deps nvidia-cudnn-frontend
fi

if ! command -v nvcc >/dev/null 2>&1; then
  if [ -x /usr/local/cuda/bin/nvcc ]; then
    echo "nvcc is at /usr/local/cuda/bin; the build scripts add it to PATH"
  else
    echo "error: no CUDA toolkit found (nvcc is neither on PATH nor in /usr/local/cuda/bin); install CUDA 12.4 or newer" >&2
    exit 2
  fi
fi
