#!/usr/bin/env python3
"""Pictures from trainbench results files (PNG and SVG, matplotlib).

    scripts/plot.py roofline  RESULTS.json [...]       --out DIR   one roofline per chip
    scripts/plot.py bars      RESULTS.json [...]       --out DIR   chips side by side, per op family
    scripts/plot.py breakdown PROJECT.json [...]       --out DIR   where a training step's time goes
                                                                   (from `trainbench project --json`; with
                                                                   --chip A,B,... a stacked bar per chip)
    scripts/plot.py accuracy  RESULTS.json [...]       --out DIR   error vs k, one line per impl, per file
                                                                   (from `trainbench run --suite fp8-accuracy`)

Rooflines draw the spec-sheet roofs of the chip recorded in the file (BF16, FP8, HBM) and the
roofs measured in the same file (the best GEMM TFLOP/s, the best copy GB/s), with each timed
benchmark as a point at its arithmetic intensity (FLOPs / compulsory bytes).
Accuracy plots draw each accuracy benchmark's verification error (left: the largest elementwise
error; right: the normwise one) against k, log-log, a line per impl and op shape (dashed for
non-negative inputs), failed ones as red crosses, and the unit roundoff of BF16 output (2^-8),
which bounds what output rounding alone costs: a line above it has lost accuracy in the sum.
Exit codes: 0 written; 2 bad input (the message names the file and what is wrong).
"""
import argparse
import json
import math
import os
import sys
from collections import OrderedDict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


class InputError(Exception):
    pass


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}")
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON, perhaps truncated ({e})")


def load_results(path):
    doc = read_json(path)
    try:
        tb = doc["context"]["trainbench"]
        benchmarks = doc["benchmarks"]
        device = tb["device"]["name"]
    except (KeyError, TypeError):
        raise InputError(f"{path}: not a trainbench results file (no context.trainbench or benchmarks)")
    chip = tb.get("chip") or {}
    label = chip.get("id") or device
    return {"path": path, "label": label, "device": device, "chip": chip, "benchmarks": benchmarks}


def throughput(b):
    return b["GB/s"] if b["roof"] == "hbm" else b["TFLOP/s"]


def save(fig, out_dir, stem):
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for ext in ("png", "svg"):
        path = os.path.join(out_dir, f"{stem}.{ext}")
        fig.savefig(path, dpi=130, bbox_inches="tight")
        written.append(path)
    plt.close(fig)
    for p in written:
        print(p)


def safe(name):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def roofline(files, out_dir):
    for r in files:
        chip = r["chip"]
        timed = [b for b in r["benchmarks"] if b.get("timed")]
        fig, ax = plt.subplots(figsize=(8, 5.5))
        xs = [10 ** (i / 20) for i in range(-20, 101)]  # 0.1 .. 1e5 FLOP/byte
        hbm_spec = chip.get("hbm_tbps")
        copies = [b["GB/s"] for b in timed if b["roof"] == "hbm"]
        hbm_measured = max(copies) / 1000 if copies else None
        gemm = [b["TFLOP/s"] for b in timed if b["op"] == "gemm"]
        compute_measured = max(gemm) if gemm else None
        roofs = [("bf16_dense_tflops", "BF16 spec", "-", "tab:blue"), ("fp8_dense_tflops", "FP8 spec", "-", "tab:purple")]
        for key, name, style, color in roofs:
            peak = chip.get(key)
            if peak and hbm_spec:
                ax.plot(xs, [min(peak, x * hbm_spec) for x in xs], style, color=color, label=f"{name} ({peak:g} TFLOP/s, {hbm_spec:g} TB/s)")
        if compute_measured and (hbm_measured or hbm_spec):
            bw = hbm_measured or hbm_spec
            ax.plot(xs, [min(compute_measured, x * bw) for x in xs], "--", color="tab:green",
                    label=f"measured here (best GEMM {compute_measured:.0f} TFLOP/s, copy {bw:.2f} TB/s)")
        elif hbm_measured:
            ax.plot(xs, [x * hbm_measured for x in xs], "--", color="tab:green", label=f"measured copy {hbm_measured:.2f} TB/s")
        families = OrderedDict()
        for b in timed:
            if b["flops"] > 0 and b["bytes"] > 0:
                families.setdefault(b["op"], []).append(b)
        for op, bs in families.items():
            ax.scatter([b["flops"] / b["bytes"] for b in bs], [b["TFLOP/s"] for b in bs], label=f"{op} benchmarks", zorder=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("arithmetic intensity (FLOP / byte of compulsory traffic)")
        ax.set_ylabel("TFLOP/s")
        ax.set_title(f"Roofline: {r['device']} ({os.path.basename(r['path'])})")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        save(fig, out_dir, f"roofline-{safe(r['label'])}")


def bars(files, out_dir):
    # benchmarks timed in every file, grouped by op family
    keys = OrderedDict()
    for r in files:
        for b in r["benchmarks"]:
            if b.get("timed"):
                key = (b["op"], b["impl"], json.dumps(b["shape"], sort_keys=True))
                keys.setdefault(key, {})[r["path"]] = b
    by_family = OrderedDict()
    for key, per_file in keys.items():
        if len(per_file) == len(files):
            by_family.setdefault(key[0], []).append((key, per_file))
    if not by_family:
        raise InputError("no benchmark is timed in every file: nothing to compare")
    for op, rows in by_family.items():
        fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(rows) * len(files) / 2 + 3), 5))
        width = 0.8 / len(files)
        for i, r in enumerate(files):
            ax.bar([j + i * width for j in range(len(rows))], [throughput(per_file[r["path"]]) for _, per_file in rows],
                   width, label=r["label"])
        unit = "GB/s" if rows[0][1][files[0]["path"]]["roof"] == "hbm" else "TFLOP/s"
        names = [f"{k[1]}\n{short_shape(json.loads(k[2]))}" for k, _ in rows]
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(rows))])
        ax.set_xticklabels(names, fontsize=7, rotation=30, ha="right")
        ax.set_ylabel(unit)
        ax.set_title(f"{op}: chips side by side")
        ax.legend(fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)
        save(fig, out_dir, f"bars-{safe(op)}")


def short_shape(shape):
    keep = [f"{k}={v}" for k, v in shape.items() if k not in ("dtype", "out_dtype")]
    return " ".join(keep)


def breakdown_items(doc, where):
    """(family, seconds) pairs of one projection's breakdown, positive times only."""
    parts = doc.get("breakdown") if isinstance(doc, dict) else None
    if isinstance(parts, dict):
        items = [(k, v if isinstance(v, (int, float)) else v.get("seconds", v.get("time_s"))) for k, v in parts.items()]
    elif isinstance(parts, list):
        items = [(p.get("name") or p.get("part"), p.get("seconds", p.get("time_s"))) for p in parts]
    else:
        raise InputError(f"{where}: no \"breakdown\" in it; make it with `trainbench project ... --json`")
    items = [(k, float(v)) for k, v in items if isinstance(v, (int, float)) and v > 0]
    if not items:
        raise InputError(f"{where}: the breakdown holds no positive times")
    return items


def breakdown(paths, out_dir):
    for path in paths:
        doc = read_json(path)
        name = f"breakdown-{safe(os.path.splitext(os.path.basename(path))[0])}"
        if isinstance(doc, dict) and isinstance(doc.get("projections"), list):
            # `project --chip A,B,... --json`: one stacked bar per chip, the same families in the same colours.
            rows = []
            for i, p in enumerate(doc["projections"]):
                if not isinstance(p, dict):
                    raise InputError(f"{path}: projections[{i}] is not an object")
                rows.append((str(p.get("chip", f"#{i}")), dict(breakdown_items(p, f"{path}: projections[{i}]"))))
            if not rows:
                raise InputError(f"{path}: \"projections\" is empty")
            families = sorted({k for _, parts in rows for k in parts}, key=lambda k: -max(r.get(k, 0) for _, r in rows))
            fig, ax = plt.subplots(figsize=(9, 0.6 * len(rows) + 2))
            left = [0.0] * len(rows)
            for j, fam in enumerate(families):
                widths = [parts.get(fam, 0.0) for _, parts in rows]
                ax.barh([c for c, _ in rows], widths, left=left, label=fam, color=plt.cm.tab20(j % 20))
                left = [a + b for a, b in zip(left, widths)]
            for i, total in enumerate(left):
                ax.text(total, i, f" {total:.2f} s", va="center", fontsize=8)
            ax.invert_yaxis()
            ax.set_xlabel("seconds per step")
            ax.set_title(f"Where a step's time goes: {doc.get('model', '')} on {doc.get('chips', '?')} chips of each kind")
            ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
            save(fig, out_dir, name)
            continue
        items = breakdown_items(doc, path)
        total = sum(v for _, v in items)
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(items) + 1.5))
        ax.barh([k for k, _ in items][::-1], [v for _, v in items][::-1], color="tab:blue")
        for i, (k, v) in enumerate(items[::-1]):
            ax.text(v, i, f" {100 * v / total:.1f}%", va="center", fontsize=8)
        ax.set_xlabel("seconds per step")
        title = doc.get("model", "") + (f" on {doc['chips']} x {doc['chip']}" if "chips" in doc and "chip" in doc else "")
        ax.set_title(f"Where a step's time goes {title}".strip())
        save(fig, out_dir, name)


def finite_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def accuracy(files, out_dir):
    metrics = [("verify_error", "max |c - ref| / (|ref| + rms(ref))"), ("verify_norm_error", "||c - ref|| / ||ref||")]
    for r in files:
        lines = OrderedDict()  # (impl, shape without k) -> [(k, benchmark)]
        for b in r["benchmarks"]:
            if b.get("accuracy") and "k" in b.get("shape", {}):
                rest = {key: v for key, v in b["shape"].items() if key != "k"}
                lines.setdefault((b["impl"], json.dumps(rest, sort_keys=True)), []).append((b["shape"]["k"], b))
        if not lines:
            raise InputError(f"{r['path']}: no accuracy benchmarks in it; make them with "
                             "`trainbench run --suite fp8-accuracy`")
        colors = OrderedDict()  # one color per impl and scales; the inputs' kind is the line style
        fig, axes = plt.subplots(1, 2, figsize=(14, 6))
        for ax, (key, label) in zip(axes, metrics):
            for (impl, rest), points in lines.items():
                shape = json.loads(rest)
                inputs = shape.get("inputs", "signed")
                scales = f"{shape.get('a_scale')}/{shape.get('b_scale')}"
                color = colors.setdefault((impl, scales), f"C{len(colors) % 10}")
                good = sorted((k, b[key]) for k, b in points
                              if not b.get("error_occurred") and finite_number(b.get(key)) and b[key] > 0)
                bad = [(k, b[key]) for k, b in points if b.get("error_occurred") and finite_number(b.get(key)) and b[key] > 0]
                if good:
                    ax.plot([k for k, _ in good], [e for _, e in good], "--" if inputs == "nonnegative" else "-",
                            marker="o", markersize=3, color=color, label=f"{impl} {scales}, {inputs} inputs")
                if bad:
                    ax.scatter([k for k, _ in bad], [e for _, e in bad], marker="x", color="red", zorder=3,
                               label=f"{impl} {scales}, {inputs} inputs: FAILED")
            ax.axhline(2 ** -8, color="gray", linestyle=":", label="BF16 output: unit roundoff 2^-8")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("k")
            ax.set_ylabel(label)
            ax.grid(True, which="both", alpha=0.3)
        axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
        fig.suptitle(f"Error against FP64 sums of the dequantized operands: {r['device']} "
                     f"({os.path.basename(r['path'])})")
        save(fig, out_dir, f"accuracy-{safe(r['label'])}")


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["roofline", "bars", "breakdown", "accuracy"])
    p.add_argument("files", nargs="+")
    p.add_argument("--out", required=True, help="directory for the PNG and SVG files")
    a = p.parse_args(argv)
    try:
        if a.kind == "breakdown":
            breakdown(a.files, a.out)
        else:
            files = [load_results(f) for f in a.files]
            {"roofline": roofline, "bars": bars, "accuracy": accuracy}[a.kind](files, a.out)
    except InputError as e:
        print(f"plot.py: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
