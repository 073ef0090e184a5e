"""Where the time of a generated kernel goes: host (Python + launch) vs GPU, per kernel.

    python3 bench/kernel_profile.py --out DIR            # on the GPU machine (torch + triton only)
    python3 bench/kernel_profile.py --case softmax16k --once   # one call, for Nsight Compute:
    ncu --kernel-name regex:_stream_kernel --launch-skip 3 --launch-count 1 \\
        --section SpeedOfLight --section WarpStateStats python3 bench/kernel_profile.py --case ... --once

For each case: the host time per call (enqueueing 200 calls without synchronising: what the
Python wrapper, the checks and Triton's launcher cost), the GPU time per call summed over the
kernels torch.profiler records (stream kernel, combine kernel, allocations' memsets if any),
and `do_bench`'s median (what the benchmark tables report).  When host > GPU, the call is
launch-bound and the tables measure Python, not the kernel.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from attention import _flex, _inputs, load_kernel  # noqa: E402  (bench/ is not a package)

# (name, variant, B, H, N queries, N keys, D, config for the module; None: its own choice)
CASES = {
    "softmax16k": ("softmax", 1, 16, 16384, 16384, 128,
                   dict(block_m=128, block_n=64, num_warps=8, num_stages=3, splits=1)),
    "softmax16k_m64": ("softmax", 1, 16, 16384, 16384, 128,
                       dict(block_m=64, block_n=64, num_warps=4, num_stages=3, splits=1)),
    "flex16k": ("flex", 1, 16, 16384, 16384, 128, None),
    "decode8k": ("softmax", 1, 32, 1, 8192, 128, None),
    "decode8k_1part": ("softmax", 1, 32, 1, 8192, 128, dict(block_m=16, splits=1)),
    "decode128k": ("softmax", 1, 32, 1, 131072, 128, None),
    "decode32k_b4h8": ("softmax", 4, 8, 1, 32768, 128, None),
    "decode32k_b4h8_1part": ("softmax", 4, 8, 1, 32768, 128, dict(block_m=16, splits=1)),
    "decode64k_h16": ("softmax", 1, 16, 1, 65536, 128, None),
    "decode64k_h16_1part": ("softmax", 1, 16, 1, 65536, 128, dict(block_m=16, splits=1)),
}


def make(case):
    import torch
    variant, B, H, M, N, D, cfg = CASES[case]
    g = torch.Generator(device="cuda").manual_seed(0)
    q = torch.randn(B, H, M, D, device="cuda", dtype=torch.bfloat16, generator=g)
    k, v = (torch.randn(B, H, N, D, device="cuda", dtype=torch.bfloat16, generator=g)
            for _ in range(2))
    if variant == "flex":
        fn = _flex("softmax", [q, k, v])
        return fn, 4 * B * H * M * N * D, None
    mod, kern = load_kernel(variant)
    mod.CONFIG = dict(dict.fromkeys(mod.CONFIG), **(cfg or {}))  # None: the module chooses
    chosen = mod._config(dict(b=B, h=H, i=M, j=N, d=D, e=D), q.device, q.dtype)
    return (lambda: kern(q, k, v)), 4 * B * H * M * N * D, chosen


def measure(case):
    import torch
    import triton
    from torch.profiler import ProfilerActivity, profile
    fn, flops, chosen = make(case)
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    n = 200
    t = time.perf_counter()
    for _ in range(n):
        fn()
    host_us = (time.perf_counter() - t) / n * 1e6
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(20):
            fn()
        torch.cuda.synchronize()
    kernels = {}
    for e in prof.key_averages():
        dt = getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0)
        if dt:
            kernels[e.key[:60]] = dt / 20  # µs per call
    ms = triton.testing.do_bench(fn, warmup=10, rep=100)
    gpu_us = sum(kernels.values())
    return {"case": case, "config": chosen, "host_us_per_call": host_us,
            "gpu_us_per_call": gpu_us, "kernels_us": kernels, "do_bench_ms": ms,
            "tflops_do_bench": flops / (ms * 1e-3) / 1e12,
            "bound": "host (launch)" if host_us > gpu_us else "GPU"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", help=f"one of {', '.join(CASES)} (default: all)")
    ap.add_argument("--once", action="store_true", help="warm up, then call once (for ncu)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--host", action="store_true", help="cProfile the host side of 500 calls")
    args = ap.parse_args(argv)
    import torch
    cases = args.case or list(CASES)
    if args.once:
        for c in cases:
            fn = make(c)[0]
            for _ in range(4):
                fn()
            torch.cuda.synchronize()
        return
    if args.host:
        import cProfile
        import pstats
        for c in cases:
            fn = make(c)[0]
            for _ in range(5):
                fn()
            torch.cuda.synchronize()
            pr = cProfile.Profile()
            pr.enable()
            for _ in range(500):
                fn()
            pr.disable()
            torch.cuda.synchronize()
            print(f"== {c}: host profile of 500 calls")
            pstats.Stats(pr).sort_stats("tottime").print_stats(18)
        return
    rows = []
    for c in cases:
        r = measure(c)
        rows.append(r)
        print(json.dumps(r), flush=True)
    print("\n| case | config | host µs/call | GPU µs/call | do_bench µs | TFLOP/s | bound |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        cfg = r["config"] or "flex"
        print(f"| {r['case']} | {cfg} | {r['host_us_per_call']:.1f} | {r['gpu_us_per_call']:.1f} | "
              f"{r['do_bench_ms'] * 1e3:.1f} | {r['tflops_do_bench']:.0f} | {r['bound']} |")
    if args.out:
        pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
        (pathlib.Path(args.out) / "profile.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
