#!/usr/bin/env python3
"""Renders every picture scripts/plot.py makes, from the synthetic results files and from every
committed results file under results/, and checks each output is a non-empty PNG or SVG image.
Also checks that bad input (a truncated or absent file, an accuracy plot of a file without
accuracy benchmarks) exits 2 with the file named.
    test_plots.py SYNTHETIC_DIR RESULTS_DIR OUT_DIR"""
import glob
import json
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
plot = os.path.join(here, "..", "scripts", "plot.py")
synthetic_dir, results_dir, out_dir = sys.argv[1:4]
failures = []


def run(*args):
    return subprocess.run([sys.executable, plot, *args], capture_output=True, text=True)


def check_images(paths):
    for p in paths:
        with open(p, "rb") as f:
            data = f.read()
        if p.endswith(".png") and not (data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000):
            failures.append(f"{p}: not a non-empty PNG")
        if p.endswith(".svg") and not (b"<svg" in data[:2000] and len(data) > 1000):
            failures.append(f"{p}: not a non-empty SVG")


def render(kind, files, out):
    r = run(kind, *files, "--out", out)
    if r.returncode != 0:
        failures.append(f"plot.py {kind} {files}: exit {r.returncode}: {r.stderr}")
        return
    written = r.stdout.split()
    if not written:
        failures.append(f"plot.py {kind} {files}: wrote nothing")
    check_images(written)


synthetic = sorted(glob.glob(os.path.join(synthetic_dir, "*.json")))
assert synthetic, f"no synthetic results in {synthetic_dir}"
render("roofline", synthetic, os.path.join(out_dir, "synthetic"))
render("bars", synthetic, os.path.join(out_dir, "synthetic"))
breakdown = os.path.join(out_dir, "breakdown-input.json")
os.makedirs(out_dir, exist_ok=True)
with open(breakdown, "w") as f:
    json.dump({"model": "synthetic", "breakdown": {"gemm": 1.2, "attention": 0.4, "exposed communication": 0.2,
                                                    "pipeline bubble": 0.1}}, f)
render("breakdown", [breakdown], os.path.join(out_dir, "synthetic"))
chips = os.path.join(out_dir, "breakdown-chips.json")  # `project --chip A,B --json`: a bar per chip
with open(chips, "w") as f:
    json.dump({"model": "synthetic", "chips": 64, "projections": [
        {"chip": "h100-sxm", "breakdown": {"gemm": 1.2, "attention": 0.4, "exposed comm": 0.2}},
        {"chip": "b200", "breakdown": {"gemm": 0.6, "attention": 0.2, "bubble": 0.1}}]}, f)
render("breakdown", [chips], os.path.join(out_dir, "synthetic"))
empty = os.path.join(out_dir, "breakdown-none.json")
with open(empty, "w") as f:
    json.dump({"model": "synthetic", "projections": [{"chip": "b200", "breakdown": {}}]}, f)
r = run("breakdown", empty, "--out", out_dir)
if r.returncode != 2 or "projections[0]" not in r.stderr:
    failures.append(f"breakdown of {empty}: exit {r.returncode}, stderr {r.stderr!r}")
accuracy = sorted(glob.glob(os.path.join(synthetic_dir, "accuracy", "*.json")))
assert accuracy, f"no synthetic accuracy results in {synthetic_dir}/accuracy"
render("accuracy", accuracy, os.path.join(out_dir, "synthetic-accuracy"))
render("roofline", accuracy, os.path.join(out_dir, "synthetic-accuracy"))

committed = sorted(glob.glob(os.path.join(results_dir, "*", "*.json")))
for path in committed:
    render("roofline", [path], os.path.join(out_dir, "committed"))
    with open(path) as f:
        if any(b.get("accuracy") for b in json.load(f)["benchmarks"]):
            render("accuracy", [path], os.path.join(out_dir, "committed"))
if len({os.path.dirname(p) for p in committed}) > 1:
    render("bars", committed, os.path.join(out_dir, "committed"))

truncated = os.path.join(out_dir, "truncated.json")
with open(synthetic[0]) as f:
    text = f.read()
with open(truncated, "w") as f:
    f.write(text[: len(text) // 2])
for bad in (truncated, os.path.join(out_dir, "absent.json")):
    r = run("roofline", bad, "--out", out_dir)
    if r.returncode != 2 or bad not in r.stderr:
        failures.append(f"bad input {bad}: exit {r.returncode}, stderr {r.stderr!r}")

r = run("accuracy", synthetic[0], "--out", out_dir)  # a file with no accuracy benchmark
if r.returncode != 2 or synthetic[0] not in r.stderr:
    failures.append(f"accuracy plot of {synthetic[0]}: exit {r.returncode}, stderr {r.stderr!r}")

print(f"rendered from {len(synthetic) + len(accuracy)} synthetic and {len(committed)} committed results files")
for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
