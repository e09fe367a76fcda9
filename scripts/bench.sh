#!/usr/bin/env bash
# Quick start 1 of 2: install what is missing, build Release, and run the default suite on the
# local GPU. Arguments go to `trainbench run` (default: --suite quick); the results file is
# written into the current directory unless --out says otherwise.
#     scripts/bench.sh
#     scripts/bench.sh --suite memory --out results-memory.json
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
export PATH="/usr/local/cuda/bin:$PATH"
(cd "$root" && cmake --preset default >/dev/null && cmake --build --preset default -j "$(nproc)" --target trainbench)
if [ $# -eq 0 ]; then set -- --suite quick; fi
exec "$root/build/release/trainbench" run "$@"
