#!/usr/bin/env python3
"""The PyTorch peer's results files, without PyTorch or a GPU: a peer file built from fake
timings in the peer's own format is read by `trainbench compare` and lines up with ours.
    test_torch_peer.py TRAINBENCH_EXE SYNTHETIC_RESULTS.json OUT_DIR"""
import json
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "scripts", "peers"))
import torch_peer  # noqa: E402

exe, like_path, out_dir = sys.argv[1:4]
os.makedirs(out_dir, exist_ok=True)
like = torch_peer.load_like(like_path)
fails = []

# The stopping rule on a fake clock: quiet samples stop at the noise target after the minimum.
clock = [0.0]
def tick():
    clock[0] += 0.01
    return clock[0]
samples, why = torch_peer.collect(lambda: 1e-3, 10, 0.005, 2.0, now=tick)
if (len(samples), why) != (10, "noise_target"):
    fails.append(f"stopping rule: {len(samples)} samples, {why}")

records = []
for t in like["benchmarks"]:
    if t["op"] == "gemm" and t["impl"] == "gemm.cublas":
        fake = [t["median_s"] * 1.01] * 12  # stand-in timings: this test checks the format only
        v = {"error": 1e-3, "tolerance": 1e-2, "detail": "test", "passed": True}
        records.append(torch_peer.peer_record(t, "torch.matmul", fake, v, "noise_target", like["context"]["trainbench"]["chip"]))
bad = dict(like["benchmarks"][0])
records.append(torch_peer.peer_record(bad, "torch.copy", [], {"error": 5.0, "tolerance": 0.0, "detail": "test",
                                                              "passed": False}, "", None))
doc = torch_peer.peer_document(like, records, "test", {"hot": False, "noise_target": 0.005, "budget_s": 2.0,
                                                       "min_samples": 10, "throttle_fraction": 0.0,
                                                       "l2_flush_bytes": 0, "warmup_launches": 3},
                               {"torch": "test", "torch_cuda": "test"})
peer_path = os.path.join(out_dir, "peer.json")
with open(peer_path, "w") as f:
    json.dump(doc, f)

r = subprocess.run([exe, "compare", like_path, peer_path, "--pair", "gemm.cublas=torch.matmul", "--format", "json"],
                   capture_output=True, text=True)
if r.returncode != 0:
    fails.append(f"trainbench compare exit {r.returncode}: {r.stderr}")
else:
    c = json.loads(r.stdout)
    paired = [row for row in c["rows"] if row["impl"] == "gemm.cublas"]
    if len(paired) != len(records) - 1:
        fails.append(f"expected {len(records) - 1} paired gemm rows, got {len(paired)}")
    for row in paired:
        if row["ratio"][1] is None or abs(row["ratio"][1] - 1 / 1.01) > 1e-3:
            fails.append(f"{row['name']}: ratio {row['ratio'][1]}")
# The peer file read by `check` on both sides (its impls are not trainbench's, so against the
# trainbench file there is nothing in common to check).
r = subprocess.run([exe, "check", "--baseline", peer_path, "--current", peer_path], capture_output=True, text=True)
if r.returncode not in (0, 1):
    fails.append(f"trainbench check could not read the peer file: exit {r.returncode}: {r.stderr}")

for f in fails:
    print("FAIL:", f)
print(f"peer file with {len(records)} benchmark(s) read back by trainbench")
sys.exit(1 if fails else 0)
