#!/usr/bin/env python3
"""PyTorch as a peer: the same ops at the same shapes, timed by the same rules, written in the
same results format, so `trainbench compare ours.json peer.json` puts them side by side.

    scripts/peers/torch_peer.py --like RESULTS.json --out PEER.json [--force] [--hot]
                                [--noise 0.005] [--budget 2] [--min-samples 10]

--like names a trainbench results file made on this GPU; every benchmark in it whose op family
PyTorch covers is run once per peer impl:
    copy       torch.copy          dst.copy_(src)
    gemm       torch.matmul        torch.matmul (cuBLAS), BF16 in, FP32 accumulate, bf16/f32 out
    attention  torch.sdpa.flash    scaled_dot_product_attention, flash backend (forward; backward
               torch.sdpa.cudnn    through autograd), cuDNN backend
    scaled_gemm torch.scaled_mm    torch._scaled_mm, E4M3 operands, FP32 scales (per-tensor, or
                                   1x128 / 128x128 blocks where this PyTorch takes them), BF16 out
               torch.int_mm        torch._int_mm, s8 operands, s32 sums, then the row and column
                                   scales in FP32 and BF16 out (both timed, as int8gemm.cublaslt)
Each peer result is verified first (against an FP32 computation, outputs poisoned with NaN
before the verifying run; a failure gives no number), warmed up, then timed with CUDA events
after an L2 flush (unless --hot), at least --min-samples and until the relative noise is under
--noise or --budget seconds are spent. Every sample is kept.
Exit codes: 0 written; 1 a peer failed verification; 2 bad input or environment.
"""
import argparse
import datetime
import json
import math
import os
import socket
import statistics
import sys
import time

SCHEMA_VERSION = 1


class InputError(Exception):
    pass


# ---- the results format (no torch needed: tested on machines without a GPU) -----------------

def summarize(samples):
    s = sorted(samples)
    n = len(s)
    mean = sum(s) / n
    stdev = statistics.stdev(s) if n > 1 else 0.0
    return {"median": statistics.median(s), "min": s[0], "max": s[-1], "mean": mean,
            "noise": stdev / mean if mean > 0 else 0.0}


def shape_label(shape):
    def text(v):
        return json.dumps(v) if not isinstance(v, str) else v
    return "/".join(f"{k}:{text(v)}" for k, v in shape.items())


def peer_record(template, impl, samples, verification, stop_reason, chip):
    """One benchmark of the results format from a trainbench benchmark `template` (its op and
    shape), the peer's samples (seconds) and its verification {error, tolerance, detail, passed}."""
    b = {
        "name": f"{template['op']}/{impl}/{shape_label(template['shape'])}",
        "family_index": 0, "per_family_instance_index": 0,
        "run_name": "", "run_type": "iteration", "repetitions": 1, "repetition_index": 0, "threads": 1,
        "iterations": 1, "real_time": 0.0, "cpu_time": 0.0, "time_unit": "us",
    }
    b["run_name"] = b["name"]
    flops, nbytes, roof = template["flops"], template["bytes"], template["roof"]
    timed = verification["passed"] and bool(samples)
    if verification.get("unavailable"):
        b["error_occurred"] = True
        b["error_message"] = f"unavailable: {verification['detail']}"
    elif not verification["passed"]:
        b["error_occurred"] = True
        b["error_message"] = (f"verification failed: error {verification['error']:.3g} > tolerance "
                              f"{verification['tolerance']:.3g} ({verification['detail']})")
    s = summarize(samples) if timed else {"median": 0.0, "min": 0.0, "max": 0.0, "mean": 0.0, "noise": 0.0}
    median = s["median"]
    tflops = flops / median / 1e12 if timed else 0.0
    gbps = nbytes / median / 1e9 if timed else 0.0
    peak = None
    if chip:
        peak = {"hbm": (chip.get("hbm_tbps") or 0) * 1000 or None, "bf16": chip.get("bf16_dense_tflops"),
                "fp8": chip.get("fp8_dense_tflops"), "tf32": chip.get("tf32_dense_tflops"),
                "int8": chip.get("int8_dense_tops")}.get(roof)
    achieved = gbps if roof == "hbm" else tflops
    b["real_time"] = median * 1e6
    b.update({
        "flops": flops, "bytes": nbytes, "TFLOP/s": tflops, "GB/s": gbps,
        "pct_of_peak": 100 * achieved / peak if (peak and timed) else None,
        "noise": s["noise"], "verify_error": verification["error"], "samples": len(samples) if timed else 0,
        "op": template["op"], "impl": impl, "shape": template["shape"], "verified": verification["passed"],
        "verify_tolerance": verification["tolerance"], "verify_detail": verification["detail"], "timed": timed,
        "median_s": median, "min_s": s["min"], "max_s": s["max"], "mean_s": s["mean"],
        "roof": roof, "peak": peak, "sm_clock_mhz": 0.0,
        "stop_reason": stop_reason if timed else "", "throttled": False,
        "samples_s": list(samples) if timed else [], "samples_sm_clock_mhz": [0.0] * len(samples) if timed else [],
        "discarded_samples_s": [], "discarded_sm_clock_mhz": [],
        "conditions_before": {}, "conditions_after": {},
    })
    return b


def peer_document(like_doc, benchmarks, command, measurement, versions):
    """The whole file: the --like file's device fingerprint and chip (same GPU), our context."""
    tb_like = like_doc["context"]["trainbench"]
    context = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host_name": socket.gethostname(), "executable": "scripts/peers/torch_peer.py",
        "peer": versions,
        "trainbench": {
            "schema_version": SCHEMA_VERSION, "version": tb_like["version"] + "+torch-peer",
            "git_commit": tb_like["git_commit"], "cuda_toolkit": versions.get("torch_cuda", ""),
            "command": command, "device": tb_like["device"], "chip": tb_like["chip"],
            "measurement": measurement,
        },
    }
    for i, b in enumerate(benchmarks):
        b["family_index"] = i
    return {"context": context, "benchmarks": benchmarks}


def load_like(path):
    try:
        with open(path) as f:
            doc = json.load(f)
        tb = doc["context"]["trainbench"]
        if tb["schema_version"] != SCHEMA_VERSION:
            raise InputError(f"{path}: results schema version {tb['schema_version']}; this peer writes {SCHEMA_VERSION}")
        return doc
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}")
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON, perhaps truncated ({e})")
    except (KeyError, TypeError):
        raise InputError(f"{path}: not a trainbench results file (no context.trainbench)")


def collect(take_sample, min_samples, noise_target, budget_s, now=time.monotonic):
    """The harness's stopping rule: at least min_samples, then until noise < target or budget."""
    samples, start = [], now()
    while True:
        samples.append(take_sample())
        if len(samples) >= min_samples:
            if summarize(samples)["noise"] < noise_target:
                return samples, "noise_target"
            if now() - start >= budget_s:
                return samples, "budget"
            if len(samples) >= 100000:
                return samples, "max_samples"


# ---- the GPU part -----------------------------------------------------------------------------

def run_peers(like_doc, args):
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    if not torch.cuda.is_available():
        raise InputError("no usable NVIDIA GPU: torch.cuda.is_available() is False")
    dev = torch.device("cuda")
    name = torch.cuda.get_device_name(dev)
    like_name = like_doc["context"]["trainbench"]["device"]["name"]
    if name != like_name:
        raise InputError(f"--like was made on \"{like_name}\" but this GPU is \"{name}\": run the peer where the "
                         "trainbench results were made")
    props = torch.cuda.get_device_properties(dev)
    l2 = getattr(props, "L2_cache_size", 50 * 2**20)
    # Reading 3x the L2 leaves it holding clean lines of this buffer (no write-back lands in the
    # timed region), as the harness's flush does.
    flush = None if args.hot else torch.ones(3 * l2 // 4, dtype=torch.int32, device=dev)
    sink = torch.empty((), dtype=torch.int64, device=dev)
    gen = torch.Generator(device=dev).manual_seed(20261123)

    def rand(*shape, dtype=torch.bfloat16):
        return (torch.rand(*shape, generator=gen, device=dev, dtype=torch.float32) * 2 - 1).to(dtype)

    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def timed(fn):
        def sample():
            if flush is not None:
                torch.sum(flush, dim=0, out=sink)  # a 0-d out needs the dim named (torch 2.11)
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            return start.elapsed_time(stop) * 1e-3
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        return collect(sample, args.min_samples, args.noise, args.budget)

    def rel_error(out, ref):
        out, ref = out.float(), ref.float()
        if not torch.isfinite(out).all():
            return float("inf")
        return (torch.linalg.vector_norm(out - ref) / torch.linalg.vector_norm(ref).clamp_min(1e-30)).item()

    def verification(err, tol, detail):
        return {"error": err, "tolerance": tol, "detail": detail, "passed": math.isfinite(err) and err <= tol}

    chip = like_doc["context"]["trainbench"]["chip"]

    def scaled_gemm_peer(t, impl, fn, c, reference, refused):
        """fn writes c once; a PyTorch that refuses it gives an unavailable record saying why
        (`refused`); otherwise c is verified against reference() (FP32, dequantized operands) and
        fn is timed."""
        try:
            fn()
        except (RuntimeError, TypeError) as e:
            v = verification(float("inf"), 0.0, f"{refused}: {str(e).splitlines()[0]}")
            v["unavailable"] = True
            return peer_record(t, impl, [], v, "", chip)
        v = verification(rel_error(c, reference()), 1e-2,
                         "relative Frobenius error against an FP32 matmul of the dequantized operands")
        samples, why = timed(fn) if v["passed"] else ([], "")
        return peer_record(t, impl, samples, v, why, chip)

    out = []
    for t in like_doc["benchmarks"]:
        op, shape = t["op"], t["shape"]
        if op == "copy":
            n = shape["bytes"]
            src = torch.randint(1, 255, (n,), dtype=torch.uint8, device=dev, generator=gen)
            dst = torch.full((n,), 255, dtype=torch.uint8, device=dev)
            dst.copy_(src)
            v = verification(float((dst != src).sum().item()), 0.0, "bytes of the destination that differ (exact)")
            samples, why = timed(lambda: dst.copy_(src)) if v["passed"] else ([], "")
            out.append(peer_record(t, "torch.copy", samples, v, why, chip))
        elif op == "gemm" and shape.get("dtype") == "bf16":
            m, n, k, layout = shape["m"], shape["n"], shape["k"], shape["layout"]
            # Row-major views of cuBLAS's column-major layouts: C[m,n] = A[m,k] B[k,n].
            a = rand(m, k) if layout in ("tn", "nn") else rand(k, m).t()
            b = rand(n, k).t() if layout == "tn" else rand(k, n)
            out_dtype = torch.float32 if shape["out_dtype"] == "f32" else torch.bfloat16
            c = torch.full((m, n), float("nan"), dtype=out_dtype, device=dev)
            fn = (lambda: torch.matmul(a, b, out=c)) if out_dtype == torch.bfloat16 else \
                 (lambda: c.copy_(torch.matmul(a.float(), b.float())))
            fn()
            v = verification(rel_error(c, a.float() @ b.float()), 1e-2 if out_dtype == torch.bfloat16 else 1e-4,
                             "relative Frobenius error against an FP32 matmul of the same inputs")
            samples, why = timed(fn) if v["passed"] else ([], "")
            out.append(peer_record(t, "torch.matmul", samples, v, why, chip))
        elif op == "scaled_gemm" and shape.get("dtype") == "e4m3" and shape.get("inputs", "signed") == "signed":
            m, n, k = shape["m"], shape["n"], shape["k"]
            fp8 = torch.float8_e4m3fn
            # Operands already in E4M3 (values in [-448, 448] as quantized data are): A row-major [m, k],
            # B given as [n, k] row-major, i.e. the column-major [k, n] operand _scaled_mm wants.
            a = (rand(m, k, dtype=torch.float32) * 448).to(fp8)
            bt = (rand(n, k, dtype=torch.float32) * 448).to(fp8)
            blocks = shape["a_scale"] == "1x128" and shape["b_scale"] == "128x128"
            if blocks:
                kb, nb = (k + 127) // 128, (n + 127) // 128
                sa_rows = (torch.rand(m, kb, generator=gen, device=dev) + 0.5) / 448
                sb_blocks = (torch.rand(nb, kb, generator=gen, device=dev) + 0.5) / 448
                a_deq = a.float() * sa_rows.repeat_interleave(128, 1)[:, :k]
                b_deq = bt.float() * sb_blocks.repeat_interleave(128, 0)[:n].repeat_interleave(128, 1)[:, :k]
                # The layouts cuBLASLt's blockwise modes read (PyTorch's own blockwise tests build them
                # so): a's [m, k/128] outer-dim-major; b's as [round_up(k/128, 4), n/128] with the
                # k-blocks contiguous, zero-padded.
                sa = sa_rows.t().contiguous().t()
                sb = torch.nn.functional.pad(sb_blocks, (0, -kb % 4)).t()
            elif shape["a_scale"] == "tensor" and shape["b_scale"] == "tensor":
                sa = torch.tensor(1.0 / 448, device=dev)
                sb = torch.tensor(2.0 / 448, device=dev)
                a_deq, b_deq = a.float() * sa, bt.float() * sb
            else:
                continue
            c = torch.full((m, n), float("nan"), dtype=torch.bfloat16, device=dev)
            def fn():
                c.copy_(torch._scaled_mm(a, bt.t(), scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16))
            out.append(scaled_gemm_peer(t, "torch.scaled_mm", fn, c, lambda: a_deq @ b_deq.t(),
                                        "this PyTorch's _scaled_mm does not take these scales"))
        elif op == "scaled_gemm" and shape.get("dtype") == "s8" and shape.get("inputs", "signed") == "signed":
            m, n, k = shape["m"], shape["n"], shape["k"]
            # s8 operands as quantized data are ([-127, 127]), one FP32 scale per row of A and per
            # column of C; torch._int_mm gives the s32 sums (cuBLASLt), the scales follow in FP32.
            a = torch.randint(-127, 128, (m, k), dtype=torch.int8, device=dev, generator=gen)
            bt = torch.randint(-127, 128, (n, k), dtype=torch.int8, device=dev, generator=gen)
            sa = (torch.rand(m, 1, generator=gen, device=dev) + 0.5) / 127
            sb = (torch.rand(1, n, generator=gen, device=dev) + 0.5) / 127
            c = torch.full((m, n), float("nan"), dtype=torch.bfloat16, device=dev)
            def fn():
                c.copy_(torch._int_mm(a, bt.t()).float().mul_(sa).mul_(sb))
            out.append(scaled_gemm_peer(t, "torch.int_mm", fn, c, lambda: (a.float() @ bt.float().t()) * sa * sb,
                                        "this PyTorch's _int_mm does not take this shape"))
        elif op == "attention" and shape["causal"] and shape["seq_q"] != shape["seq_kv"]:
            # torch's is_causal keeps the top-left triangle; trainbench's kernels and cuDNN align the mask
            # bottom-right (the last query sees every key): timing torch here would time another computation.
            v = verification(float("inf"), 0.0, "torch's is_causal aligns the mask top-left where seq_q != seq_kv; "
                             "trainbench's attention (and cuDNN's) aligns it bottom-right: not the same computation")
            v["unavailable"] = True
            for impl in ("torch.sdpa.flash", "torch.sdpa.cudnn"):
                out.append(peer_record(t, impl, [], v, "", chip))
        elif op == "attention" and shape["pass"] == "bwd":
            bsz, hq, hkv, sq, skv, d = (shape[x] for x in ("batch", "heads_q", "heads_kv", "seq_q", "seq_kv", "head_dim"))
            q, kk, vv = (rand(bsz, h, s_, d).requires_grad_() for h, s_ in ((hq, sq), (hkv, skv), (hkv, skv)))
            do = rand(bsz, hq, sq, d)
            gqa = hq != hkv
            ref = None
            if bsz * hq * sq * skv <= 2**26:
                qf, kf, vf = (x.detach().float().requires_grad_() for x in (q, kk, vv))
                of = F.scaled_dot_product_attention(qf, kf.repeat_interleave(hq // hkv, 1),
                                                    vf.repeat_interleave(hq // hkv, 1), is_causal=shape["causal"])
                ref = torch.autograd.grad(of, (qf, kf, vf), do.float())
            for impl, backend in (("torch.sdpa.flash", SDPBackend.FLASH_ATTENTION), ("torch.sdpa.cudnn", SDPBackend.CUDNN_ATTENTION)):
                try:
                    with sdpa_kernel(backend):
                        o = F.scaled_dot_product_attention(q, kk, vv, is_causal=shape["causal"], enable_gqa=gqa)
                    def fn():
                        # The backward alone: the forward's graph is kept between samples.
                        return torch.autograd.grad(o, (q, kk, vv), do, retain_graph=True)
                    grads = fn()
                except RuntimeError as e:
                    v = verification(float("inf"), 0.0, f"backend unavailable for this shape: {str(e).splitlines()[0]}")
                    v["unavailable"] = True
                    out.append(peer_record(t, impl, [], v, "", chip))
                    continue
                if ref is not None:
                    err = max(rel_error(g, r) for g, r in zip(grads, ref))
                    v = verification(err, 3e-2, "largest relative Frobenius error of dQ, dK, dV against FP32 autograd")
                else:
                    finite = all(torch.isfinite(g).all() for g in grads)
                    v = verification(0.0 if finite else float("inf"), 0.0,
                                     "finite gradients only (no FP32 reference at this size)")
                samples, why = timed(fn) if v["passed"] else ([], "")
                out.append(peer_record(t, impl, samples, v, why, chip))
        elif op == "attention" and shape["pass"] == "fwd":
            bsz, hq, hkv, sq, skv, d = (shape[x] for x in ("batch", "heads_q", "heads_kv", "seq_q", "seq_kv", "head_dim"))
            q = rand(bsz, hq, sq, d)
            kk = rand(bsz, hkv, skv, d)
            vv = rand(bsz, hkv, skv, d)
            gqa = hq != hkv
            ref = None
            if bsz * hq * sq * skv <= 2**28:  # an FP32 reference fits comfortably
                ref = F.scaled_dot_product_attention(q.float(), kk.float().repeat_interleave(hq // hkv, 1),
                                                     vv.float().repeat_interleave(hq // hkv, 1),
                                                     is_causal=shape["causal"])
            for impl, backend in (("torch.sdpa.flash", SDPBackend.FLASH_ATTENTION), ("torch.sdpa.cudnn", SDPBackend.CUDNN_ATTENTION)):
                def fn():
                    with sdpa_kernel(backend):
                        return F.scaled_dot_product_attention(q, kk, vv, is_causal=shape["causal"], enable_gqa=gqa)
                try:
                    o = fn()
                except RuntimeError as e:
                    v = verification(float("inf"), 0.0, f"backend unavailable for this shape: {str(e).splitlines()[0]}")
                    v["unavailable"] = True
                    out.append(peer_record(t, impl, [], v, "", chip))
                    continue
                v = verification(rel_error(o, ref), 2e-2, "relative Frobenius error against FP32 attention") if ref is not None \
                    else verification(0.0 if torch.isfinite(o).all() else float("inf"), 0.0,
                                      "finite output only (no FP32 reference at this size)")
                samples, why = timed(fn) if v["passed"] else ([], "")
                out.append(peer_record(t, impl, samples, v, why, chip))
    versions = {"torch": torch.__version__, "torch_cuda": torch.version.cuda or "",
                "cudnn": str(torch.backends.cudnn.version())}
    return out, versions, 0 if flush is None else flush.numel() * flush.element_size()


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--like", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--force", action="store_true")
    p.add_argument("--hot", action="store_true")
    p.add_argument("--noise", type=float, default=0.005)
    p.add_argument("--budget", type=float, default=2.0)
    p.add_argument("--min-samples", type=int, default=10)
    a = p.parse_args(argv)
    try:
        if os.path.exists(a.out) and not a.force:
            raise InputError(f"{a.out} exists; pass --force to overwrite it, or choose another --out")
        like = load_like(a.like)
        benchmarks, versions, flush_bytes = run_peers(like, a)
        if not benchmarks:
            print(f"torch_peer.py: {a.like} holds no op the peer covers (copy, bf16 gemm, attention, e4m3 "
                  "scaled_gemm): nothing written")
            return 0
        measurement = {"hot": a.hot, "noise_target": a.noise, "budget_s": a.budget, "min_samples": a.min_samples,
                       "throttle_fraction": 0.0, "l2_flush_bytes": flush_bytes, "warmup_launches": 3}
        doc = peer_document(like, benchmarks, " ".join(["torch_peer.py", *argv]), measurement, versions)
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=2)
        os.replace(tmp, a.out)
        print(f"wrote {a.out}: {len(benchmarks)} peer benchmark(s)")
        return 1 if any(b.get("error_occurred") and "verification failed" in b["error_message"] for b in benchmarks) else 0
    except InputError as e:
        print(f"torch_peer.py: {e}", file=sys.stderr)
        return 2
    except ImportError as e:
        print(f"torch_peer.py: PyTorch is needed to run the peer ({e})", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
