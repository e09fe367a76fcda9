#!/usr/bin/env bash
# Copies what the build needs beyond ../shared/device/prepare.sh's Debian packages into
# .device-extras/ (ignored by git), for a GPU machine that reaches no package registry: the
# cuDNN frontend's header-only C++ API (attention.cudnn), from PyPI's nvidia-cudnn-frontend
# (installed here first where missing), and this machine's cuDNN 9 headers (cudnn*.h, from the
# CUDA toolkit), which CMake uses only where neither the toolkit nor pip's cuDNN there has its
# own. CMake looks in .device-extras/cudnn-frontend/include before anywhere else. Run it where a
# registry is reachable, then carry .device-extras:
#     ../shared/device/prepare.sh && scripts/prepare-device-extras.sh
# Idempotent: a second run with the same frontend version copies nothing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.device-extras/cudnn-frontend"

cudnn_headers=""
for dir in /usr/local/cuda/include /usr/include /usr/include/x86_64-linux-gnu; do
  if [ -f "$dir/cudnn.h" ]; then cudnn_headers="$dir"; break; fi
done
if [ -n "$cudnn_headers" ]; then
  mkdir -p "$root/.device-extras/cudnn/include"
  cp -u "$cudnn_headers"/cudnn*.h "$root/.device-extras/cudnn/include/"
  echo "cuDNN headers from $cudnn_headers in .device-extras/cudnn (a fallback for the GPU machine)"
fi

# The package's own headers, wherever pip put them, each as "<file>\t<path under include/>".
headers() {
  python3 - <<'PY'
import importlib.metadata as m
for f in m.files("nvidia-cudnn-frontend") or []:
    if f.suffix in (".h", ".hpp") and "include" in f.parts:
        print(f"{f.locate()}\t{'/'.join(f.parts[f.parts.index('include') + 1:])}")
PY
}
version() { python3 -c "import importlib.metadata as m; print(m.version('nvidia-cudnn-frontend'))" 2>/dev/null; }

if [ -z "$(version)" ]; then
  echo "installing from PyPI: nvidia-cudnn-frontend (headers only)"
  python3 -m pip install -q --disable-pip-version-check --no-deps nvidia-cudnn-frontend
fi
want="$(version)"
if [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$want" ] && [ -f "$dest/include/cudnn_frontend.h" ]; then
  echo "ready: cuDNN frontend $want headers already in .device-extras/cudnn-frontend; carry .device-extras"
  exit 0
fi
rm -rf "$dest"
mkdir -p "$dest/include"
count=0
while IFS=$'\t' read -r file rel; do
  mkdir -p "$dest/include/$(dirname "$rel")"
  cp "$file" "$dest/include/$rel"
  count=$((count + 1))
done < <(headers)
if [ ! -f "$dest/include/cudnn_frontend.h" ]; then
  echo "error: nvidia-cudnn-frontend $want installed no cudnn_frontend.h; see pip show -f nvidia-cudnn-frontend" >&2
  exit 2
fi
echo "$want" >"$dest/VERSION"
grep -qxF '/.device-extras/' "$root/.gitignore" || echo "warning: .device-extras/ is not in .gitignore" >&2
echo "ready: $count cuDNN frontend $want headers in .device-extras/cudnn-frontend ($(du -sh "$dest" | cut -f1));" \
     "carry .device-extras"
