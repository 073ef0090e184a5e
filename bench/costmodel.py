"""Validate the napkin cost model (lowering/cost/model.py) against kernels timed on a GPU.

Three steps, so that the GPU machine needs only torch + triton:

    .venv/bin/python bench/costmodel.py plan                 # here: points + predictions
    python3 bench/costmodel.py measure --out DIR             # on the GPU: time every point
    .venv/bin/python bench/costmodel.py report DIR/measured.json    # here: docs/costmodel.md

`plan` writes bench/costmodel_plan.json: (variant, shape, form, splits, config) points with the
model's prediction for the device named by --device; each shape also gets the model's own top-1
over the whole search space.  `plan --set run3` (`run4` ... `run13`) writes
bench/costmodel_plan_run3.json (`_run4.json` ... `_run13.json`) instead: a held-out plan of
generated kernels only, on shapes no earlier run timed (RUN3 ... RUN13 below); run it with
`measure --plan bench/costmodel_plan_run3.json`.
`plan --recost FILE --out P` re-costs an earlier run's points with the model as it is now,
for `report --plan P` (run 1 kept no plan: give its measured file).  `facts --out DIR`
measures the device figures alone (for lowering/cost/hardware.py's measured column).  `measure`
checks each kernel against a float64 reference (on a shape cut down to at most 512 queries ×
8192 keys), then times it with triton's do_bench (median) of the eager call or, with
`measure --graph` (the default for a plan that says "timing": "graph", as run 5's does), of
a CUDA graph replaying the kernel K times (GPU time, without Python's per-call host time,
which an eager kernel under ~0.2 ms measures instead), and measures the device's HBM copy
bandwidth, dense bf16 matmul rate, exp throughput and launch overhead.  `report`
computes Spearman's rank correlation of predicted vs measured times, per shape whether the
model's top-1 measures within 10% of the best (and, where the plan timed the model's short
list of three, whether its fastest does), and writes the
table, an SVG scatter plot (and a PNG when matplotlib is importable: run `report` with a
Python that has it; it is no project dependency) and the device facts to docs/costmodel.md.

Kernels, three families: "generated" (proven from examples/attention.py and written by
kernels/export.py into bench/generated_cm/ by `plan`; each point sets the module's CONFIG),
"hand" (bench/costmodel_kernels.py: plain Triton loops with the same structure), and "torch"
(the example functions run eagerly: the unfused form).  `plan --cost-only --out P` re-costs
the points without rewriting the kernel modules; `report --plan P` compares another plan's
predictions with the same measurements.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PLAN = os.path.join(HERE, "costmodel_plan.json")
D = E = 128

def _non_causal(shapes: dict) -> tuple:
    return tuple(s for s in shapes if not s.startswith("causal"))


def _plan(name: str) -> str:
    """A held-out set's plan file: bench/costmodel_plan_<name>.json."""
    return os.path.join(HERE, f"costmodel_plan_{name}.json")


# Calibration shapes: the first H100 run, from which the loop-latency constants and the soft
# HBM/latency corner were fitted.  Held-out shapes: never seen by the fit.
CALIBRATION = {  # name -> sizes (bf16)
    "decode-64k": dict(b=1, h=16, i=1, j=65536, d=D, e=E),
    "decode-32k-b4": dict(b=4, h=8, i=1, j=32768, d=D, e=E),
    "prefill-1k-b4": dict(b=4, h=16, i=1024, j=1024, d=D, e=E),
    "prefill-4k": dict(b=1, h=16, i=4096, j=4096, d=D, e=E),
    "prefill-16k": dict(b=1, h=16, i=16384, j=16384, d=D, e=E),
}
HELD_OUT = {
    "decode-32k": dict(b=1, h=16, i=1, j=32768, d=D, e=E),
    "decode-128k-h8": dict(b=1, h=8, i=1, j=131072, d=D, e=E),
    "decode-16k-b8": dict(b=8, h=16, i=1, j=16384, d=D, e=E),
    "chunk-128x32k": dict(b=1, h=16, i=128, j=32768, d=D, e=E),
    "prefill-2k-b2": dict(b=2, h=16, i=2048, j=2048, d=D, e=E),
    "prefill-8k": dict(b=1, h=16, i=8192, j=8192, d=D, e=E),
    "prefill-4k-d64": dict(b=2, h=16, i=4096, j=4096, d=64, e=64),
}
SHAPES = {**CALIBRATION, **HELD_OUT}

# Run 3: held out from everything above (one repeat, marked), generated kernels only.  Prefill
# (b, h, N, D) and decoding (one query, D = 128) at b = 4, h = 8 and b = 1, h = 32.
RUN3 = {
    "prefill-3k-h8": dict(b=1, h=8, i=3072, j=3072, d=D, e=E),
    "prefill-6k-b2-d64": dict(b=2, h=16, i=6144, j=6144, d=64, e=64),
    "prefill-2k-h32": dict(b=1, h=32, i=2048, j=2048, d=D, e=E),
    "prefill-12k-b4": dict(b=4, h=8, i=12288, j=12288, d=D, e=E),
    # the calibration shape where split-KV measured only 1.3-1.7x (host floor): re-measured
    "decode-32k-b4": dict(b=4, h=8, i=1, j=32768, d=D, e=E),
    "decode-64k-b4": dict(b=4, h=8, i=1, j=65536, d=D, e=E),
    "decode-128k-b4": dict(b=4, h=8, i=1, j=131072, d=D, e=E),
    "decode-8k-h32": dict(b=1, h=32, i=1, j=8192, d=D, e=E),
    "decode-24k-h32": dict(b=1, h=32, i=1, j=24576, d=D, e=E),
}
RUN3_REPEATS = {"decode-32k-b4"}
RUN3_VARIANTS = {"spherical": tuple(RUN3), "softmax": tuple(RUN3),
                 "sigmoid": ("prefill-2k-h32", "decode-64k-b4", "decode-24k-h32")}
# After run 3 the model's overlap constant (hardware.py: exposed; split into exposed_fp32 and
# exposed_sfu after run 4) was fitted to this run-3 shape: calibration from then on, not
# counted as held-out when run 3 is re-scored.
RUN3_CALIBRATION = {"prefill-12k-b4"}

# Run 4: shapes none of runs 1-3 timed, for the model as changed after run 3 (docs/costmodel.md).
RUN4 = {
    "prefill-5k-h16": dict(b=1, h=16, i=5120, j=5120, d=D, e=E),
    "prefill-10k-b2": dict(b=2, h=8, i=10240, j=10240, d=D, e=E),
    "prefill-1k-b8": dict(b=8, h=16, i=1024, j=1024, d=D, e=E),
    "prefill-8k-h24-d64": dict(b=1, h=24, i=8192, j=8192, d=64, e=64),
    "decode-48k-b2": dict(b=2, h=16, i=1, j=49152, d=D, e=E),
    # b = 1, h = 16 at 64K keys is run 1's decode-64k; 96K keys is new
    "decode-96k-h16": dict(b=1, h=16, i=1, j=98304, d=D, e=E),
}
RUN4_VARIANTS = {"spherical": tuple(RUN4), "softmax": tuple(RUN4),
                 "sigmoid": ("prefill-5k-h16", "decode-48k-b2")}

# Run 5: shapes none of runs 1-4 timed, for the model as changed after run 4, timed as CUDA-graph
# replays (GPU time, not the host's per-call time; see _graph_ms).  Adds a causal kernel:
# examples/attention.py's causal_inline builds the j <= i mask from positions, so its kernel
# skips the key blocks past the diagonal (b = 1, h = 16, N = 8K is run 2's non-causal prefill-8k).
RUN5 = {
    "prefill-7k-b2": dict(b=2, h=16, i=7168, j=7168, d=D, e=E),
    "prefill-3.5k-h32": dict(b=1, h=32, i=3584, j=3584, d=D, e=E),
    "prefill-14k-b4-d64": dict(b=4, h=4, i=14336, j=14336, d=64, e=64),
    "prefill-1.5k-b2": dict(b=2, h=8, i=1536, j=1536, d=D, e=E),
    "causal-8k-h16": dict(b=1, h=16, i=8192, j=8192, d=D, e=E),
    "causal-12k-b2": dict(b=2, h=8, i=12288, j=12288, d=D, e=E),
    "decode-40k-h8": dict(b=1, h=8, i=1, j=40960, d=D, e=E),
    "decode-80k-b2": dict(b=2, h=8, i=1, j=81920, d=D, e=E),
    "decode-28k-h24": dict(b=1, h=24, i=1, j=28672, d=D, e=E),
}
RUN5_VARIANTS = {"spherical": _non_causal(RUN5), "softmax": _non_causal(RUN5),
                 "sigmoid": ("prefill-7k-b2", "prefill-1.5k-b2", "decode-80k-b2"),
                 "causal_inline": ("causal-8k-h16", "causal-12k-b2")}

# Run 6: shapes none of runs 1-5 timed, for the model as changed after run 5 (the tile loads'
# share of the tensor core's time, hardware.py: exposed_loads), CUDA-graph timed.  Adds softcap
# (softmax of c·tanh(s/c): a running max and two SFU ops per score), a variant no earlier run
# timed, so the fitted constants meet a loop body they were not fitted to.
RUN6 = {
    "prefill-6k-h16": dict(b=1, h=16, i=6144, j=6144, d=D, e=E),
    "prefill-9k-b2-h12": dict(b=2, h=12, i=9216, j=9216, d=D, e=E),
    "prefill-2.5k-b4": dict(b=4, h=16, i=2560, j=2560, d=D, e=E),
    "prefill-16k-h8-d64": dict(b=1, h=8, i=16384, j=16384, d=64, e=64),
    "causal-6k-b2": dict(b=2, h=16, i=6144, j=6144, d=D, e=E),
    "causal-16k-h8": dict(b=1, h=8, i=16384, j=16384, d=D, e=E),
    "decode-36k-h16": dict(b=1, h=16, i=1, j=36864, d=D, e=E),
    "decode-56k-h12": dict(b=1, h=12, i=1, j=57344, d=D, e=E),
    "decode-112k-h4": dict(b=1, h=4, i=1, j=114688, d=D, e=E),
}
RUN6_VARIANTS = {"spherical": _non_causal(RUN6), "softmax": _non_causal(RUN6),
                 "sigmoid": ("prefill-6k-h16", "prefill-2.5k-b4", "decode-56k-h12"),
                 "softcap": ("prefill-9k-b2-h12", "prefill-16k-h8-d64", "decode-36k-h16"),
                 "causal_inline": ("causal-6k-b2", "causal-16k-h8")}

# Run 7: shapes none of runs 1-6 timed, for the model as changed after run 6 (the FP32
# instructions that come with sigmoid, tanh and a plain exp, counted from the SASS of the
# generated kernels; no constant refitted).  Adds two variants no run timed: softpick (a plain
# exp with its range fix-up, relu and abs; no running max) and relu (FP32 only, no SFU).
RUN7 = {
    "prefill-5k-b2-h8": dict(b=2, h=8, i=5120, j=5120, d=D, e=E),
    "prefill-11k-h16": dict(b=1, h=16, i=11264, j=11264, d=D, e=E),
    "prefill-3k-b4-h12": dict(b=4, h=12, i=3072, j=3072, d=D, e=E),
    "prefill-12k-b2-d64": dict(b=2, h=8, i=12288, j=12288, d=64, e=64),
    "causal-10k-h16": dict(b=1, h=16, i=10240, j=10240, d=D, e=E),
    "causal-4k-b4-h12": dict(b=4, h=12, i=4096, j=4096, d=D, e=E),
    "decode-48k-h16": dict(b=1, h=16, i=1, j=49152, d=D, e=E),
    "decode-72k-h8": dict(b=1, h=8, i=1, j=73728, d=D, e=E),
    "decode-160k-h2": dict(b=1, h=2, i=1, j=163840, d=D, e=E),
}
RUN7_VARIANTS = {"spherical": _non_causal(RUN7), "softmax": _non_causal(RUN7),
                 "sigmoid": ("prefill-11k-h16", "prefill-3k-b4-h12"),
                 "softcap": ("prefill-5k-b2-h8", "prefill-12k-b2-d64", "decode-72k-h8"),
                 "softpick": ("prefill-11k-h16", "prefill-3k-b4-h12", "decode-48k-h16"),
                 "relu": ("prefill-5k-b2-h8", "prefill-12k-b2-d64"),
                 "causal_inline": ("causal-10k-h16", "causal-4k-b4-h12")}

# Run 8: shapes none of runs 1-7 timed, for the model as changed after run 7 (a decoding
# program alone on its SM waits for its own step's compute); the variants of runs 3-7, and a
# decoding shape at b·h = 32 where the unsplit kernel's 32 programs already pull over half of
# the HBM bandwidth (how far split-KV can go there).
RUN8 = {
    "prefill-4.5k-h16": dict(b=1, h=16, i=4608, j=4608, d=D, e=E),
    "prefill-13k-b2-h8": dict(b=2, h=8, i=13312, j=13312, d=D, e=E),
    "prefill-2k-b8-h8": dict(b=8, h=8, i=2048, j=2048, d=D, e=E),
    "prefill-10k-h12-d64": dict(b=1, h=12, i=10240, j=10240, d=64, e=64),
    "causal-7k-b2-h16": dict(b=2, h=16, i=7168, j=7168, d=D, e=E),
    "causal-14k-h8": dict(b=1, h=8, i=14336, j=14336, d=D, e=E),
    "decode-44k-h16": dict(b=1, h=16, i=1, j=45056, d=D, e=E),
    "decode-88k-h6": dict(b=1, h=6, i=1, j=90112, d=D, e=E),
    "decode-64k-b2-h16": dict(b=2, h=16, i=1, j=65536, d=D, e=E),
}
RUN8_VARIANTS = {"spherical": _non_causal(RUN8), "softmax": _non_causal(RUN8),
                 "sigmoid": ("prefill-4.5k-h16", "prefill-10k-h12-d64", "decode-88k-h6"),
                 "softcap": ("prefill-13k-b2-h8", "prefill-2k-b8-h8", "decode-44k-h16"),
                 "softpick": ("prefill-4.5k-h16", "decode-64k-b2-h16"),
                 "relu": ("prefill-13k-b2-h8", "prefill-2k-b8-h8"),
                 "causal_inline": ("causal-7k-b2-h16", "causal-14k-h8")}

# Run 9: shapes none of runs 1-8 timed, for the model as changed after run 8 (split-KV searched
# only where the unsplit grid leaves SMs idle; a program's second warpgroup hides less of the
# FP32/MUFU phases, hardware.py: synced_group).  Adds a chunk of 256 queries against 48K keys
# at h = 4 (8 programs unsplit: the split rule's other side), a second D = 64 prefill, and a
# decoding shape at b·h = 24.
RUN9 = {
    "prefill-6.5k-h16": dict(b=1, h=16, i=6656, j=6656, d=D, e=E),
    "prefill-3.5k-b4-h8": dict(b=4, h=8, i=3584, j=3584, d=D, e=E),
    "prefill-15k-h12": dict(b=1, h=12, i=15360, j=15360, d=D, e=E),
    "prefill-7k-h20-d64": dict(b=1, h=20, i=7168, j=7168, d=64, e=64),
    "prefill-5.5k-b2-h12-d64": dict(b=2, h=12, i=5632, j=5632, d=64, e=64),
    "chunk-256x48k-h4": dict(b=1, h=4, i=256, j=49152, d=D, e=E),
    "causal-9k-b2-h8": dict(b=2, h=8, i=9216, j=9216, d=D, e=E),
    "causal-5k-h24": dict(b=1, h=24, i=5120, j=5120, d=D, e=E),
    "decode-52k-h16": dict(b=1, h=16, i=1, j=53248, d=D, e=E),
    "decode-100k-h10": dict(b=1, h=10, i=1, j=102400, d=D, e=E),
    "decode-40k-b3-h8": dict(b=3, h=8, i=1, j=40960, d=D, e=E),
}
RUN9_VARIANTS = {"spherical": _non_causal(RUN9), "softmax": _non_causal(RUN9),
                 "sigmoid": ("prefill-6.5k-h16", "prefill-7k-h20-d64", "chunk-256x48k-h4",
                             "decode-100k-h10"),
                 "softcap": ("prefill-3.5k-b4-h8", "prefill-5.5k-b2-h12-d64", "decode-52k-h16"),
                 "softpick": ("prefill-15k-h12", "decode-40k-b3-h8"),
                 "relu": ("prefill-6.5k-h16", "prefill-7k-h20-d64"),
                 "causal_inline": ("causal-9k-b2-h8", "causal-5k-h24")}


def heuristic(sizes: dict, sms: int = 132) -> tuple[int, dict]:
    """(splits, config) that exported modules chose for bf16 on a GPU before the cost model
    did (the rule kernels/export.py keeps as `_heuristic`): BLOCK_M 16 for at most 16 rows,
    64 up to 64, else 128; BLOCK_N 64; 8 warps at BLOCK_M 128; 3 stages; split the keys when
    fewer programs than SMs, into min(4·SMs / programs, key blocks) parts."""
    i = sizes["i"]
    bm = 16 if i <= 16 else 64 if i <= 64 else 128
    progs = -(-i // bm) * sizes["b"] * sizes["h"]
    p = min(-(-4 * sms // progs), -(-sizes["j"] // 64)) if progs < sms else 1
    return max(1, p), _cfg(bm, 64, 8 if bm >= 128 else 4, 3)


def _grid_run3(ranked, sizes: dict) -> list[tuple]:
    """(role, form, splits, config) for one shape: the model's top-1 (and, decoding, its best
    unsplit kernel and its split config at half and twice the parts; prefill, its runner-up),
    the heuristic's pick (decoding: also unsplit), and a small spread."""
    top = ranked[0]
    pts = [("model-top1", top.form, top.splits, top.config)]
    p_h, cfg_h = heuristic(sizes)
    if sizes["i"] == 1:
        uns = next(c for c in ranked if c.splits == 1)
        pts.append(("model-unsplit", "fused", 1, uns.config))
        pts.append(("heuristic-unsplit", "fused", 1, cfg_h))
        pts.append(("heuristic", "split" if p_h > 1 else "fused", p_h, cfg_h))
        p = top.splits if top.splits > 1 else 8
        pts += [("spread", "split", q, top.config) for q in (max(2, p // 2), 2 * p)]
    else:
        pts.append(("model-top2", ranked[1].form, ranked[1].splits, ranked[1].config))
        pts.append(("heuristic", "split" if p_h > 1 else "fused", p_h, cfg_h))
        pts += [("spread", "fused", 1, c) for c in (_cfg(64, 64, 4, 3), _cfg(128, 32, 8, 2))]
    return pts


def _grid_run4(ranked, sizes: dict) -> list[tuple]:
    """Run 4's points for one shape, as run 3's (model's top-1, heuristic, decoding unsplit and
    split at half and twice the parts), except that prefill's second model point is the
    model's best with another BLOCK_M than its top-1 (BLOCK_M 64 against 128 is what run 3
    missed) and the spread is BLOCK_M 128 / BLOCK_N 64 / 8 warps / 3 stages and 64 / 32 / 4 /
    3 (the model's pick on run 3's misses before the fix)."""
    if sizes["i"] == 1:
        return _grid_run3(ranked, sizes)
    top = ranked[0]
    other = next(c for c in ranked if c.config["BLOCK_M"] != top.config["BLOCK_M"])
    p_h, cfg_h = heuristic(sizes)
    return [("model-top1", top.form, top.splits, top.config),
            ("model-other-block-m", other.form, other.splits, other.config),
            ("heuristic", "split" if p_h > 1 else "fused", p_h, cfg_h),
            ("spread", "fused", 1, _cfg(128, 64, 8, 3)), ("spread", "fused", 1, _cfg(64, 32, 4, 3))]


def _grid_run5(ranked, sizes: dict) -> list[tuple]:
    """Run 5's points for one shape: decoding as runs 3 and 4; prefill (causal too), the
    model's top-1, its best with another BLOCK_M and its best with another BLOCK_N than the
    top-1 (how far down the ranking the next tile shape is, in both directions), the
    heuristic, and a fixed spread of four tiles that runs 2-4 found near the best."""
    if sizes["i"] == 1:
        return _grid_run3(ranked, sizes)
    top = ranked[0]
    pts = [("model-top1", top.form, top.splits, top.config)]
    for role, field in (("model-other-block-m", "BLOCK_M"), ("model-other-block-n", "BLOCK_N")):
        other = next((c for c in ranked if c.config[field] != top.config[field]), None)
        if other is not None:  # none when the device accepts a single tile size
            pts.append((role, other.form, other.splits, other.config))
    p_h, cfg_h = heuristic(sizes)
    pts.append(("heuristic", "split" if p_h > 1 else "fused", p_h, cfg_h))
    return pts + [("spread", "fused", 1, _cfg(*c)) for c in
                  ((128, 64, 8, 3), (64, 64, 4, 3), (64, 32, 4, 3), (128, 128, 8, 3))]


# Run 10: shapes none of runs 1-9 timed, for the model as of run 9 (unchanged), and the first
# run that times the model's short list of three (cost_search.shortlist: its first three tile
# shapes, as an exported module's `autotune` or `export --tune 3` times them): how often the
# fastest of them is within 10 % of the best measured, held out, beside the first alone.
RUN10 = {
    "prefill-8.5k-h12": dict(b=1, h=12, i=8704, j=8704, d=D, e=E),
    "prefill-4k-b2-h20": dict(b=2, h=20, i=4096, j=4096, d=D, e=E),
    "prefill-1.5k-b8-h12": dict(b=8, h=12, i=1536, j=1536, d=D, e=E),
    "prefill-2.5k-b2-h24-d64": dict(b=2, h=24, i=2560, j=2560, d=64, e=64),
    "prefill-11k-h10-d64": dict(b=1, h=10, i=11264, j=11264, d=64, e=64),
    "chunk-512x32k-h8": dict(b=1, h=8, i=512, j=32768, d=D, e=E),
    "causal-8k-h20": dict(b=1, h=20, i=8192, j=8192, d=D, e=E),
    "causal-3k-b4-h16": dict(b=4, h=16, i=3072, j=3072, d=D, e=E),
    "decode-36k-h32": dict(b=1, h=32, i=1, j=36864, d=D, e=E),
    "decode-120k-h6": dict(b=1, h=6, i=1, j=122880, d=D, e=E),
    "decode-60k-b2-h12": dict(b=2, h=12, i=1, j=61440, d=D, e=E),
}
RUN10_VARIANTS = {"spherical": _non_causal(RUN10), "softmax": _non_causal(RUN10),
                  "sigmoid": ("prefill-8.5k-h12", "prefill-2.5k-b2-h24-d64", "decode-120k-h6"),
                  "softcap": ("prefill-4k-b2-h20", "prefill-11k-h10-d64", "chunk-512x32k-h8",
                              "decode-36k-h32"),
                  "softpick": ("prefill-1.5k-b8-h12", "decode-60k-b2-h12"),
                  "relu": ("prefill-11k-h10-d64", "prefill-4k-b2-h20"),
                  "causal_inline": ("causal-8k-h20", "causal-3k-b4-h16")}


def _grid_run10(ranked, sizes: dict) -> list[tuple]:
    """Run 10's points for one shape: run 5's (decoding: run 3's), plus the rest of the model's
    short list of three (cost_search.shortlist), so the fastest of the three is known."""
    from wirefuse.lowering.cost.ranking import shortlist
    pts = _grid_run5(ranked, sizes)
    return pts + [(f"model-shortlist{n + 1}", c.form, c.splits, c.config)
                  for n, c in enumerate(shortlist(ranked, 3)[1:], 1)]


# Run 11: shapes none of runs 1-10 timed, for the model after run 10 (the compute counted per
# program an SM runs rather than per whole wave, and `further_resident`: both fitted in-sample
# to runs 3-10).  As run 10, plus BLOCK_M 64 / BLOCK_N 32 / 4 warps with 4 stages beside run
# 5's 3-stage spread point on every prefill shape: at D=128 the fourth stage costs a program
# per SM (SMEM), the trade the new terms price.
RUN11 = {
    "prefill-9.5k-h12": dict(b=1, h=12, i=9728, j=9728, d=D, e=E),
    "prefill-4.5k-b2-h14": dict(b=2, h=14, i=4608, j=4608, d=D, e=E),
    "prefill-2k-b4-h20": dict(b=4, h=20, i=2048, j=2048, d=D, e=E),
    "prefill-6k-b3-h8-d64": dict(b=3, h=8, i=6144, j=6144, d=64, e=64),
    "prefill-13k-h6-d64": dict(b=1, h=6, i=13312, j=13312, d=64, e=64),
    "chunk-384x40k-h12": dict(b=1, h=12, i=384, j=40960, d=D, e=E),
    "causal-6.5k-b2-h12": dict(b=2, h=12, i=6656, j=6656, d=D, e=E),
    "causal-11k-h12": dict(b=1, h=12, i=11264, j=11264, d=D, e=E),
    "decode-44k-h20": dict(b=1, h=20, i=1, j=45056, d=D, e=E),
    "decode-76k-h8": dict(b=1, h=8, i=1, j=77824, d=D, e=E),
    "decode-34k-b4-h6": dict(b=4, h=6, i=1, j=34816, d=D, e=E),
}
RUN11_VARIANTS = {"spherical": _non_causal(RUN11), "softmax": _non_causal(RUN11),
                  "sigmoid": ("prefill-9.5k-h12", "prefill-6k-b3-h8-d64", "decode-76k-h8"),
                  "softcap": ("prefill-4.5k-b2-h14", "prefill-13k-h6-d64", "chunk-384x40k-h12",
                              "decode-44k-h20"),
                  "softpick": ("prefill-2k-b4-h20", "decode-34k-b4-h6"),
                  "relu": ("prefill-13k-h6-d64", "prefill-4.5k-b2-h14"),
                  "causal_inline": ("causal-6.5k-b2-h12", "causal-11k-h12")}


def _grid_run11(ranked, sizes: dict) -> list[tuple]:
    """Run 11's points for one shape: run 10's, plus 64/32/4 with 4 stages on prefill."""
    pts = _grid_run10(ranked, sizes)
    if sizes["i"] > 256:
        pts.append(("spread", "fused", 1, _cfg(64, 32, 4, 4)))
    return pts


# Run 12: shapes none of runs 1-11 timed, for the model as of run 11 (unchanged) with the
# 16-row split-KV combine; run 11's grid.
RUN12 = {
    "prefill-7.5k-h14": dict(b=1, h=14, i=7680, j=7680, d=D, e=E),
    "prefill-3k-b3-h16": dict(b=3, h=16, i=3072, j=3072, d=D, e=E),
    "prefill-5k-b2-h10": dict(b=2, h=10, i=5120, j=5120, d=D, e=E),
    "prefill-9k-h8-d64": dict(b=1, h=8, i=9216, j=9216, d=64, e=64),
    "prefill-3.5k-b4-h10-d64": dict(b=4, h=10, i=3584, j=3584, d=64, e=64),
    "chunk-768x24k-h8": dict(b=1, h=8, i=768, j=24576, d=D, e=E),
    "causal-7.5k-b2-h10": dict(b=2, h=10, i=7680, j=7680, d=D, e=E),
    "causal-13k-h10": dict(b=1, h=10, i=13312, j=13312, d=D, e=E),
    "decode-64k-h12": dict(b=1, h=12, i=1, j=65536, d=D, e=E),
    "decode-56k-b2-h8": dict(b=2, h=8, i=1, j=57344, d=D, e=E),
    "decode-92k-h4": dict(b=1, h=4, i=1, j=94208, d=D, e=E),
}
RUN12_VARIANTS = {"spherical": _non_causal(RUN12), "softmax": _non_causal(RUN12),
                  "sigmoid": ("prefill-7.5k-h14", "prefill-3.5k-b4-h10-d64", "decode-92k-h4"),
                  "softcap": ("prefill-3k-b3-h16", "prefill-9k-h8-d64", "chunk-768x24k-h8",
                              "decode-64k-h12"),
                  "softpick": ("prefill-5k-b2-h10", "decode-56k-b2-h8"),
                  "relu": ("prefill-9k-h8-d64", "prefill-3k-b3-h16"),
                  "causal_inline": ("causal-7.5k-b2-h10", "causal-13k-h10")}


# Run 13: shapes none of runs 1-12 timed, for the model after run 12 (`tiles_in_flight`: a
# loop's fourth stage no longer counts as a third tile in flight; in-sample to runs 3-12 on
# both GPUs); run 11's grid.
RUN13 = {
    "prefill-10k-h12": dict(b=1, h=12, i=10240, j=10240, d=D, e=E),
    "prefill-3.5k-b3-h12": dict(b=3, h=12, i=3584, j=3584, d=D, e=E),
    "prefill-2k-b6-h16": dict(b=6, h=16, i=2048, j=2048, d=D, e=E),
    "prefill-7k-b2-h8-d64": dict(b=2, h=8, i=7168, j=7168, d=64, e=64),
    "prefill-12k-h12-d64": dict(b=1, h=12, i=12288, j=12288, d=64, e=64),
    "chunk-640x28k-h10": dict(b=1, h=10, i=640, j=28672, d=D, e=E),
    "causal-10k-b2-h6": dict(b=2, h=6, i=10240, j=10240, d=D, e=E),
    "causal-4k-b3-h16": dict(b=3, h=16, i=4096, j=4096, d=D, e=E),
    "decode-40k-h24": dict(b=1, h=24, i=1, j=40960, d=D, e=E),
    "decode-80k-b2-h6": dict(b=2, h=6, i=1, j=81920, d=D, e=E),
    "decode-104k-h3": dict(b=1, h=3, i=1, j=106496, d=D, e=E),
}
RUN13_VARIANTS = {"spherical": _non_causal(RUN13), "softmax": _non_causal(RUN13),
                  "sigmoid": ("prefill-10k-h12", "prefill-7k-b2-h8-d64", "decode-104k-h3"),
                  "softcap": ("prefill-3.5k-b3-h12", "prefill-12k-h12-d64", "chunk-640x28k-h10",
                              "decode-40k-h24"),
                  "softpick": ("prefill-2k-b6-h16", "decode-80k-b2-h6"),
                  "relu": ("prefill-12k-h12-d64", "prefill-3.5k-b3-h12"),
                  "causal_inline": ("causal-10k-b2-h6", "causal-4k-b3-h16")}


HELD_OUT_SETS = {  # name -> (shapes, variants, repeats, default plan file, grid)
    "run3": (RUN3, RUN3_VARIANTS, RUN3_REPEATS, _plan("run3"), _grid_run3),
    "run4": (RUN4, RUN4_VARIANTS, set(), _plan("run4"), _grid_run4),
    "run5": (RUN5, RUN5_VARIANTS, set(), _plan("run5"), _grid_run5),
    "run6": (RUN6, RUN6_VARIANTS, set(), _plan("run6"), _grid_run5),
    "run7": (RUN7, RUN7_VARIANTS, set(), _plan("run7"), _grid_run5),
    "run8": (RUN8, RUN8_VARIANTS, set(), _plan("run8"), _grid_run5),
    "run9": (RUN9, RUN9_VARIANTS, set(), _plan("run9"), _grid_run5),
    "run10": (RUN10, RUN10_VARIANTS, set(), _plan("run10"), _grid_run10),
    "run11": (RUN11, RUN11_VARIANTS, set(), _plan("run11"), _grid_run11),
    "run12": (RUN12, RUN12_VARIANTS, set(), _plan("run12"), _grid_run11),
    "run13": (RUN13, RUN13_VARIANTS, set(), _plan("run13"), _grid_run11),
}
# Sets whose plan asks `measure` for CUDA-graph timing (the plan doc's "timing": "graph").
GRAPH_TIMED = {"run5", "run6", "run7", "run8", "run9", "run10", "run11", "run12", "run13"}


def plan_held_out(name: str, device: str, dtype: str, write_modules: bool = True) -> list[dict]:
    """A held-out run's points (HELD_OUT_SETS: runs 3, 4, 5): generated kernels only (proven
    from examples/attention.py, written to bench/generated_cm/), on that run's shapes, with
    predictions frozen now."""
    from wirefuse.lowering.cost.model import Rejected, fused_candidate
    from wirefuse.lowering.cost.ranking import rank
    from wirefuse.lowering.cost.hardware import get_device
    shape_sizes, variants, repeats, _, grid = HELD_OUT_SETS[name]
    spec = get_device(device)
    forms = _generated_forms(tuple(variants), write_modules)
    if not forms:
        raise SystemExit(f"plan --set {name} needs wirefuse's prover and kernels/export.py")
    points = []
    for variant, shapes in variants.items():
        sf, term = forms[variant]
        for shape in shapes:
            sizes = shape_sizes[shape]
            ranked = rank(sf, term, sizes, dtype, spec, forms=("fused", "split"))
            top = ranked[0]
            from wirefuse.lowering.cost.ranking import shortlist
            listed = {(c.splits, tuple(sorted(c.config.items()))): n
                      for n, c in enumerate(shortlist(ranked, 3))}
            seen = {}
            for role, form, p, cfg in grid(ranked, sizes):
                key = (p, tuple(sorted(cfg.items())))
                if key in seen:
                    seen[key]["roles"].append(role)
                    continue
                try:
                    c = fused_candidate(sf, term, sizes, dtype, spec, cfg, p)
                except Rejected as e:
                    print(f"skip {variant} {shape} {role} p={p} {cfg}: {e}", file=sys.stderr)
                    continue
                seen[key] = pt = {
                    "id": len(points), "variant": variant, "shape": shape,
                    "kernel": "generated",
                    "set": "repeat" if shape in repeats else "held-out",
                    "sizes": sizes, "form": c.form, "splits": p, "config": cfg,
                    "roles": [role], "predicted_ms": c.predicted_ms, "bound": c.bound,
                    "breakdown_ms": {k: v * 1e3 for k, v in c.breakdown_s.items()},
                    "model_top1": (p, cfg) == (top.splits, top.config),
                    # its place in the model's short list of three (0: the top-1), else None
                    "model_shortlist": listed.get(key)}
                points.append(pt)
    return points


def _cfg(bm, bn, w, s):
    return {"BLOCK_M": bm, "BLOCK_N": bn, "num_warps": w, "num_stages": s}


def _grid(sizes: dict):
    """The (form, splits, config) points timed for one shape: a spread, not the model's picks."""
    if sizes["i"] <= 16:    # decoding
        pts = [("fused", 1, _cfg(16, bn, 4, st)) for bn in (64, 128) for st in (2, 3)]
        pts += [("split", p, _cfg(16, 64, 4, 3)) for p in (2, 4, 8, 16, 32)]
        pts += [("split", 8, _cfg(16, 128, 4, 2)), ("split", 16, _cfg(64, 64, 4, 2))]
    elif sizes["i"] <= 256:  # a chunk of queries against a long context
        pts = [("fused", 1, _cfg(bm, 64, w, 3)) for bm, w in ((32, 4), (64, 4), (128, 8))]
        pts += [("split", p, _cfg(bm, 64, w, 3)) for p in (2, 4, 8) for bm, w in
                ((64, 4), (128, 8))]
    else:
        pts = [("fused", 1, _cfg(bm, bn, w, st)) for bm, bn, w, st in
               [(64, 32, 4, 2), (64, 64, 4, 3), (128, 32, 8, 2), (128, 64, 8, 3),
                (128, 128, 8, 2), (32, 64, 4, 3), (16, 64, 4, 2)]]
        pts += [("split", 2, _cfg(128, 64, 8, 3))]
    return [("unfused", 1, {})] + pts


# ------------------------------------------------------------------------------------ plan
GENERATED = os.path.join(HERE, "generated_cm")  # kernel modules written by `plan`, carried
EXAMPLES_AXES = "q: b h i d, k: b h j d, v: b h j e"


def _generated_forms(variants, write: bool = True):
    """{variant: (stream form, traced term)} proven from examples/attention.py, with each
    kernel module written by kernels/export.py into bench/generated_cm/; {} if that part of
    wirefuse is not there."""
    try:
        from wirefuse.kernels.export import _prove, module_source
        from wirefuse.loading import load_function
    except ImportError as e:
        print(f"no generated kernels: {e}", file=sys.stderr)
        return {}
    os.makedirs(GENERATED, exist_ok=True)
    out = {}
    for v in variants:
        fn = load_function(os.path.join(HERE, "..", "examples", "attention.py") + ":" + v)
        sf, cert, term = _prove(fn, EXAMPLES_AXES, "j")
        axes = {"q": ("b", "h", "i", "d"), "k": ("b", "h", "j", "d"), "v": ("b", "h", "j", "e")}
        if write:
            with open(os.path.join(GENERATED, f"{v}.py"), "w") as f:
                f.write(module_source(v, ["q", "k", "v"], axes, sf, term, cert))
        out[v] = (sf, term)
    return out


def plan(device: str, dtype: str, write_modules: bool = True) -> list[dict]:
    """Points for two kernel families: "hand" (bench/costmodel_kernels.py, costed from the
    hand-written normal forms) and "generated" (proven from examples/attention.py and
    generated by the lowering; costed from the proven stream form and the traced term).  The
    unfused points (kernel "torch") are the example functions run eagerly."""
    from wirefuse.lowering.cost.model import Rejected, fused_candidate, reference_form, \
        unfused_candidate
    from wirefuse.lowering.cost.ranking import best_candidate
    from wirefuse.lowering.cost.hardware import get_device
    from wirefuse.rewrite.ir.sexpr import parse
    spec = get_device(device)
    variants = ("spherical", "softmax")
    families = {"hand": {v: (reference_form(v)[0], parse(ORIGINAL[v])) for v in variants}}
    gen = _generated_forms(variants, write_modules)
    if gen:
        families["generated"] = gen
    points = []
    for kernel, forms in families.items():
        for variant, (sf, original) in forms.items():
            for shape, sizes in SHAPES.items():
                pts = _grid(sizes)
                if kernel == "hand" and gen:  # unfused: the traced example, costed below
                    pts = [x for x in pts if x[0] != "unfused"]
                top = best_candidate(sf, original, sizes, dtype, spec)
                key = (top.form, top.splits, tuple(sorted(top.config.items())))
                if key not in {(f, p, tuple(sorted(c.items()))) for f, p, c in pts}:
                    pts.append((top.form, top.splits, top.config))
                for form, p, cfg in pts:
                    try:
                        c = (unfused_candidate(original, sizes, dtype, spec) if form == "unfused"
                             else fused_candidate(sf, original, sizes, dtype, spec, cfg, p))
                    except Rejected as e:
                        print(f"skip {kernel} {variant} {shape} {form} p={p} {cfg}: {e}",
                              file=sys.stderr)
                        continue
                    calib = kernel == "hand" and shape in CALIBRATION
                    points.append({
                        "id": len(points), "variant": variant, "shape": shape,
                        "kernel": "torch" if form == "unfused" else kernel,
                        "set": "calibration" if calib else "held-out",
                        "sizes": sizes, "form": form, "splits": p, "config": cfg,
                        "predicted_ms": c.predicted_ms, "bound": c.bound,
                        "breakdown_ms": {k: v * 1e3 for k, v in c.breakdown_s.items()},
                        "model_top1": (form, p, cfg) == (top.form, top.splits, top.config)})
    return points


def recost(doc: dict, device: str, dtype: str) -> dict:
    """An earlier run's points with the current model's predictions: `doc` is its plan (or,
    for run 1, which kept none, its measured file); the same (kernel, variant, shape, form,
    splits, config) are costed again, each shape's `model_top1` re-marked (the model's top-1
    over the whole search space), and points whose config the model now rejects are listed
    under "rejected" (not scored).  `report --plan` then scores the old measurements against
    the model as it is now."""
    from wirefuse.lowering.cost.model import Rejected, fused_candidate, reference_form, \
        unfused_candidate
    from wirefuse.lowering.cost.ranking import best_candidate
    from wirefuse.lowering.cost.hardware import get_device
    from wirefuse.rewrite.ir.sexpr import parse
    spec = get_device(device)
    sizes_of = dict(SHAPES)  # every run's shapes: a new held-out set needs no edit here
    for shapes, *_ in HELD_OUT_SETS.values():
        sizes_of.update(shapes)
    if "points" in doc:
        old = doc["points"]
    else:  # a measured file: rebuild the plan's fields (run 1: hand kernels and eager torch)
        old = []
        for r in doc["results"]:
            kernel = r.get("kernel") or ("torch" if r["form"] == "unfused" else "hand")
            calib = kernel == "hand" and r["shape"] in CALIBRATION
            old.append({**{k: r[k] for k in ("id", "variant", "shape", "form", "splits",
                                             "config")}, "kernel": kernel,
                        "set": "calibration" if calib else "held-out",
                        "sizes": sizes_of[r["shape"]]})
    gen = _generated_forms(tuple(sorted({p["variant"] for p in old if p["kernel"] != "hand"})),
                           write=False) if any(p["kernel"] != "hand" for p in old) else {}
    hand = {v: (reference_form(v)[0], parse(ORIGINAL[v])) for v in ORIGINAL}
    points, rejected, tops = [], [], {}
    for pt in old:
        fam = pt["kernel"]
        sf, term = (gen if fam == "generated" else hand)[pt["variant"]] if fam != "torch" \
            else (None, (gen.get(pt["variant"]) or hand[pt["variant"]])[1])
        sizes = pt["sizes"]
        try:
            c = (unfused_candidate(term, sizes, dtype, spec) if pt["form"] == "unfused" else
                 fused_candidate(sf, term, sizes, dtype, spec, pt["config"], pt["splits"]))
        except Rejected as e:
            rejected.append({**pt, "reason": str(e)})
            continue
        key = (fam, pt["variant"], pt["shape"])
        if fam != "torch" and key not in tops:
            tops[key] = best_candidate(sf, term, sizes, dtype, spec)
        top = tops.get(key)
        points.append({**pt, "set": "calibration" if pt["shape"] in RUN3_CALIBRATION
                       else pt.get("set", "held-out"),
                       "predicted_ms": c.predicted_ms, "bound": c.bound,
                       "breakdown_ms": {k: v * 1e3 for k, v in c.breakdown_s.items()},
                       "model_top1": top is not None and (pt["form"], pt["splits"], pt["config"])
                       == (top.form, top.splits, top.config)})
    for r in rejected:
        print(f"rejected now: {r['kernel']} {r['variant']} {r['shape']} p={r['splits']} "
              f"{r['config']}: {r['reason']}", file=sys.stderr)
    return {"recost_of": doc.get("set", "plan" if "points" in doc else "measured"),
            **{k: doc[k] for k in ("set", "do_bench", "timing") if k in doc},
            "points": points, "rejected": rejected}


# The hand kernels' unfused reference (costed from this term; the "torch" points run the
# example functions of examples/attention.py eagerly).
_S = "(mul 0.088 (sum@d (mul q[b,h,i,d] k[b,h,j,d])))"
ORIGINAL = {
    "spherical": f"(layout@b,h,i,e (sum@j (mul (div {_S} (sqrt (sum@j (square {_S})))) "
                 "v[b,h,j,e])))",
    "softmax": f"(layout@b,h,i,e (sum@j (mul (div (exp {_S}) (sum@j (exp {_S}))) v[b,h,j,e])))",
}


# --------------------------------------------------------------------------------- measure
def _device_facts():
    import torch
    import triton
    import triton.language as tl
    from triton.testing import do_bench
    props = torch.cuda.get_device_properties(0)
    sms = props.multi_processor_count
    facts = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
             "triton": triton.__version__, "cuda": torch.version.cuda,
             "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "sms": sms,
             "memory_bytes": props.total_memory}
    for key, attr in (("l2_bytes", "L2_cache_size"),
                      ("smem_per_block_optin", "shared_memory_per_block_optin"),
                      ("smem_per_sm", "shared_memory_per_multiprocessor"),
                      ("regs_per_sm", "regs_per_multiprocessor")):
        if getattr(props, attr, None) is not None:  # attributes an older torch lacks
            facts[key] = getattr(props, attr)
    n = 1 << 29  # 1 GiB of bf16
    a = torch.randn(n, device="cuda", dtype=torch.bfloat16)
    b = torch.empty_like(a)
    ms = do_bench(lambda: b.copy_(a), warmup=50, rep=300, return_mode="median")
    facts["hbm_copy_bytes_per_s"] = 2 * a.numel() * 2 / (ms * 1e-3)
    del a, b
    x = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    y = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    ms = do_bench(lambda: x @ y, warmup=100, rep=500, return_mode="median")
    facts["bf16_matmul_flops"] = 2 * 8192 ** 3 / (ms * 1e-3)
    del x, y

    @triton.jit
    def exps(X, Y, ITERS: tl.constexpr, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        u = tl.load(X + offs)
        w = u
        for _ in range(ITERS):  # 4 independent chains, so MUFU latency is hidden
            u = tl.exp2(u * -0.7)
            w = tl.exp2(w * -0.6)
        tl.store(Y + offs, u + w)
    cnt, iters = sms * 64 * 1024, 256  # 64 programs of 1024 per SM
    xs = torch.rand(cnt, device="cuda")
    ys = torch.empty_like(xs)
    run = lambda: exps[(cnt // 1024,)](xs, ys, ITERS=iters, BLOCK=1024, num_warps=8)
    ms = do_bench(run, warmup=50, rep=300, return_mode="median")
    facts["exp_per_s"] = 2 * iters * cnt / (ms * 1e-3)
    @triton.jit
    def l2read(X, Y, n, BLOCK: tl.constexpr):
        # every program reads the whole (L2-resident) buffer, starting at its own offset
        pid = tl.program_id(0)
        acc = tl.zeros([BLOCK], tl.float32)
        for s0 in range(0, n, BLOCK):
            offs = (s0 + pid * BLOCK + tl.arange(0, BLOCK)) % n
            acc += tl.load(X + offs).to(tl.float32)
        tl.store(Y + pid * BLOCK + tl.arange(0, BLOCK), acc)
    n, progs = 1 << 22, sms * 4  # 8 MiB of bf16 (in L2 on A100/H100/H200), 4 programs per SM
    xb = torch.randn(n, device="cuda", dtype=torch.bfloat16)
    yb = torch.empty(progs * 4096, device="cuda")
    run = lambda: l2read[(progs,)](xb, yb, n, BLOCK=4096, num_warps=8)
    ms = do_bench(run, warmup=50, rep=300, return_mode="median")
    facts["l2_read_bytes_per_s"] = progs * n * 2 / (ms * 1e-3)
    t = torch.empty(1, device="cuda")
    facts["launch_s"] = do_bench(lambda: t.add_(1), warmup=100, rep=200,
                                 return_mode="median") * 1e-3
    facts["launch_wall_s"] = _wall(lambda: t.add_(1))
    return facts


def _wall(fn, calls: int = 300) -> float:
    """Host wall time per call of `fn`, run back to back after a warm-up: for work much
    smaller than its launch this is the per-call host floor (the GPU waits for the host)."""
    import torch
    for _ in range(20):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / calls


GRAPH_WORK_MS = 2.0    # GPU work captured per graph: a replay's own launch is noise against it
GRAPH_MAX_CALLS = 50


def _graph_ms(fn, warmup: int, rep: int) -> tuple[float, dict]:
    """GPU time per call of `fn` (ms) and how it was timed.  do_bench of an eager call times
    whichever is longer, the GPU's work or the host's per-call time (100-200 µs for a generated
    module's Python), so kernels under ~0.2 ms measure the host.  Here K calls are captured in
    one CUDA graph and do_bench (median) of its replay is divided by K; K gives the graph about
    GRAPH_WORK_MS of work (1 to GRAPH_MAX_CALLS), estimated from one warm eager call timed with
    CUDA events (host gaps included, so K errs low; the replay is timed on the GPU anyway).
    If the warm-up or capture fails: do_bench of the eager call, marked "eager" with the error."""
    import torch
    from triton.testing import do_bench
    from cuda_graph import capture, one_call_ms, warm_up
    try:
        warm_up(fn)
        one_ms = one_call_ms(fn)
        calls = max(1, min(GRAPH_MAX_CALLS, math.ceil(GRAPH_WORK_MS / max(one_ms, 1e-3))))
        graph = capture(fn, calls)
        ms = do_bench(graph.replay, warmup=warmup, rep=rep, return_mode="median") / calls
        return ms, {"timing": "graph", "graph_calls": calls}
    except Exception as e:  # noqa: BLE001 - any capture failure falls back, recorded
        err = f"{type(e).__name__}: {e}"[:300]
    torch.cuda.synchronize()
    ms = do_bench(fn, warmup=warmup, rep=rep, return_mode="median")
    return ms, {"timing": "eager", "graph_error": err}


def _host_floor(generated: dict) -> dict:
    """Per-call host floor of each generated module, on a tiny decoding shape (1 query, 256
    keys, D = 128): wall time per call with the config the module chooses itself (cached after
    the first call), unsplit, and split in 4; plus the module's first-call choice time (the
    cost model's ranking, once per new shape).  A module that fails here gets {"error": ...}:
    the points are what the run is for."""
    import torch
    g = torch.Generator(device="cuda").manual_seed(2)
    mk = lambda n: torch.randn(1, 1, n, D, device="cuda", dtype=torch.bfloat16, generator=g)
    q, k, v = mk(1), mk(256), mk(256)
    out = {}
    for variant, mod in generated.items():
        try:
            out[variant] = _host_floor_one(mod, getattr(mod, variant), q, k, v)
        except Exception as e:  # noqa: BLE001 - recorded, the run goes on
            out[variant] = {"error": f"{type(e).__name__}: {e}"[:300]}
    t = torch.empty(1, device="cuda")
    out["torch_add_wall_s"] = _wall(lambda: t.add_(1))
    return out


def _host_floor_one(mod, fn, q, k, v) -> dict:
    import torch
    rec = {}
    for label, cfg in (("auto", {}), ("p1", dict(block_m=16, block_n=64, num_warps=4,
                                                  num_stages=2, splits=1)),
                       ("p4", dict(block_m=16, block_n=64, num_warps=4, num_stages=2,
                                   splits=4))):
        mod.CONFIG = dict(dict.fromkeys(mod.CONFIG), **cfg)
        mod._configs.clear()
        t0 = time.perf_counter()
        fn(q, k, v)
        torch.cuda.synchronize()
        rec[f"{label}_first_call_s"] = time.perf_counter() - t0
        rec[f"{label}_wall_s"] = _wall(lambda: fn(q, k, v))
    sz = dict(b=1, h=1, i=1, j=256, d=D, e=D)
    mod.CONFIG = dict.fromkeys(mod.CONFIG)
    t0 = time.perf_counter()
    mod.choose(sz, torch.bfloat16, torch.cuda.get_device_name())
    rec["choose_s"] = time.perf_counter() - t0
    return rec


def _auto_choices(points: list[dict], generated: dict) -> list[dict]:
    """What each generated module launches by itself (CONFIG unset) at each planned shape on
    this GPU: the cost model's choice, from the real device name.  Not timed."""
    import torch
    out, done = [], set()
    for pt in points:
        key = (pt["variant"], pt["shape"])
        if pt.get("kernel") != "generated" or key in done:
            continue
        done.add(key)
        mod = generated[pt["variant"]]
        mod.CONFIG = dict.fromkeys(mod.CONFIG)
        t0 = time.perf_counter()
        try:
            cfg = mod._config(dict(pt["sizes"]), torch.device("cuda"), torch.bfloat16)
        except Exception as e:  # noqa: BLE001 - recorded; the timed results are kept
            out.append({"variant": pt["variant"], "shape": pt["shape"],
                        "error": f"{type(e).__name__}: {e}"[:300]})
            continue
        out.append({"variant": pt["variant"], "shape": pt["shape"], "auto_config": cfg,
                    "choose_s": time.perf_counter() - t0})
    return out


def facts_main(out_dir: str) -> dict:
    """`facts`: the device figures alone (HBM copy, bf16 matmul, exp2, L2 read, launch), as
    JSON on stdout and in OUT/facts.json; needs only torch and triton."""
    facts = _device_facts()
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "facts.json"), "w") as f:
        json.dump(facts, f, indent=1)
    print(json.dumps(facts, indent=1))
    return facts


def measure(points: list[dict], out_dir: str, warmup: int = 25, rep: int = 100,
            graph: bool = False) -> dict:
    """Check and time every point (see the module's docstring); `graph`: time each as CUDA-graph
    replays (_graph_ms: GPU time), else do_bench of the eager call.  The generated module's
    CONFIG is set per point before any call, so warm-up, capture and replay see one config."""
    import torch
    from triton.testing import do_bench
    sys.path.insert(0, HERE)
    import costmodel_kernels as K
    sys.path.insert(0, os.path.join(HERE, "..", "examples"))
    import attention as examples
    generated = {}
    for pt in points:
        v = pt["variant"]
        if pt.get("kernel") == "generated" and v not in generated:
            import importlib.util
            spec = importlib.util.spec_from_file_location(f"_cm_gen_{v}",
                                                          os.path.join(GENERATED, f"{v}.py"))
            generated[v] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(generated[v])
    torch.manual_seed(0)
    os.makedirs(out_dir, exist_ok=True)
    facts = _device_facts()
    print("device:", json.dumps(facts), flush=True)
    if generated:
        # the same Python path in every module: the causal one adds compiles, not information
        facts["host_floor"] = _host_floor({v: m for v, m in generated.items()
                                           if not v.startswith("causal")})
        print("host floor:", json.dumps(facts["host_floor"]), flush=True)
    results, cache = [], {}
    timing = "graph" if graph else "eager"
    for pt in points:
        s = pt["sizes"]
        key = pt["shape"]
        if key not in cache:
            cache.clear()
            torch.cuda.empty_cache()
            g = torch.Generator(device="cuda").manual_seed(1)
            mk = lambda n, w: torch.randn(s["b"], s["h"], n, w, device="cuda",
                                         dtype=torch.bfloat16, generator=g)
            cache[key] = (mk(s["i"], s["d"]), mk(s["j"], s["d"]), mk(s["j"], s["e"]))
        q, k, v = cache[key]
        variant, form, p, cfg = pt["variant"], pt["form"], pt["splits"], pt["config"]
        kernel = pt.get("kernel", "hand")
        if form == "unfused":  # the researcher's PyTorch, eager
            fn = getattr(examples, variant)
            ref = lambda q, k, v: fn(q.double(), k.double(), v.double())
        elif kernel == "generated":
            mod = generated[variant]
            mod.CONFIG = {"block_m": cfg["BLOCK_M"], "block_n": cfg["BLOCK_N"],
                          "num_warps": cfg["num_warps"], "num_stages": cfg["num_stages"],
                          "splits": p}
            fn = getattr(mod, variant)
            ex = getattr(examples, variant)
            ref = lambda q, k, v: ex(q.double(), k.double(), v.double())
        else:
            fn = lambda q, k, v: K.split(q, k, v, variant, p, **cfg)
            ref = lambda q, k, v: K.reference(q, k, v, variant)
        rec = {"id": pt["id"], "kernel": kernel, **{k: pt[k] for k in (
            "variant", "shape", "form", "splits", "config")}}
        try:
            qs, ks, vs = q[:, :, :512], k[:, :, :8192], v[:, :, :8192]
            rec["rel_err"] = K.rel_err(fn(qs, ks, vs), ref(qs, ks, vs))
            if graph:
                ms, how = _graph_ms(lambda: fn(q, k, v), warmup, rep)
                rec.update(how)
            else:
                ms = do_bench(lambda: fn(q, k, v), warmup=warmup, rep=rep, return_mode="median")
            rec["measured_ms"] = ms
        except Exception as e:  # a config that does not compile or run: recorded, not fatal
            rec["error"] = f"{type(e).__name__}: {e}"[:300]
        results.append(rec)
        if len(results) % 20 == 0:  # what was measured survives a timeout
            with open(os.path.join(out_dir, "measured.json"), "w") as f:
                json.dump({"facts": facts, "timing": timing, "results": results}, f)
        print(f"{pt['id']:>3} {kernel[:4]:<4} {variant:<9} {pt['shape']:<14} {form:<7} p={p:<3} "
              f"{json.dumps(cfg):<70} pred {pt['predicted_ms']:8.4f}  "
              f"meas {rec.get('measured_ms', float('nan')):8.4f}  "
              f"err {rec.get('rel_err', float('nan')):.1e} "
              f"{'graph x%d' % rec['graph_calls'] if 'graph_calls' in rec else ''} "
              f"{rec.get('error', '')}{rec.get('graph_error', '')}", flush=True)
    out = {"facts": facts, "timing": timing, "results": results,
           "auto": _auto_choices(points, generated)}
    for a in out["auto"]:
        print(f"auto {a['variant']:<9} {a['shape']:<18} " + (
            f"{json.dumps(a['auto_config'])} (chosen in {a['choose_s'] * 1e3:.1f} ms)"
            if "auto_config" in a else a["error"]), flush=True)
    with open(os.path.join(out_dir, "measured.json"), "w") as f:
        json.dump(out, f, indent=1)
    return out


# ---------------------------------------------------------------------------------- report
MODEL_TEXT = """\
## The model (lowering/cost/model.py, lowering/cost/hardware.py)

Work is counted from the term, never from a list of known kernels: a sum over an axis of a
product of two arrays that both carry it is a contraction (2 tensor-core FLOPs per element of
its body); exp, log, sqrt, rsqrt, tanh, sigmoid (and log1p, expm1, sin, cos) are one
special-function (MUFU) op per element; every other elementwise op or reduction is FP32 work.
Shared subterms count once.  A causal kernel (mask j ≤ i built from positions, so it skips
the key blocks past the diagonal) is costed for the blocks it visits: the loop's work, tile
loads and steps shrink to that share, and the diagonal blocks add the mask's compare and
select.  A candidate is a form (unfused: the function as written, op by op;
fused: the stream form as one kernel; split: p chunks of the stream axis folded in parallel plus
a combine kernel; searched only where the unsplit grid leaves SMs without a program) with a
Triton config (BLOCK_M, BLOCK_N, num_warps, num_stages).  Per candidate:

| resource | time |
|---|---|
| tensor, fp32, sfu | ⌈programs / SMs⌉ (the busiest SM's programs: an SM starts one whenever a slot frees, so a partly full last wave is not charged whole) × per-program work / per-SM rate; tiles padded to BLOCK_M × BLOCK_N; tensor rate halved below BLOCK_M = 64 (mma.sync, not wgmma); FP32 work in instructions at half the datasheet FLOP/s (an FMA counts 2 there), with each row reduction over a key block (2 shuffle rounds on the 4 threads of a row's quad) and the running max's per-row update counted per key block |
| hbm | unique bytes (+ re-reads that cannot be co-resident, + fp32 partial states of a split, written and read) / HBM bandwidth |
| l2 | every tile load, re-reads counted (K, V once per query block: the napkin's count) / L2 bandwidth |
| latency | steps × (L + (waves − 1) × L₂ + waves × tile/B) / f + 2L per wave, f = min(stages − 1, 2) tiles in flight (a fourth stage measured no faster than three), + the step's compute / f below BLOCK_M 64, + p·L for the combine: the first wave waits for HBM (L = 0.95 µs per step), later waves re-read K/V from L2 (L₂ = 0.4 µs) when the groups one wave walks fit there |
| chain | max(tensor, l2) + 0.15 × min(tensor, l2) + c × g × (0.25 × fp32 + 0.65 × sfu): the tensor core works as fast as L2 feeds it tiles, and the smaller of the two is not wholly hidden (they share the SM's shared memory); the dependent softmax phases of a step are partly hidden behind it, FP32 work mostly, MUFU work least; c = 0.7 when a second program shares the SM (it does not wait at the first one's barriers), × 0.9 for each program past the second (`further_resident`), else 1; g = 1.1 for each warpgroup of a program after the first (they meet at every step's barrier, so their phases coincide); with num_stages ≤ 2 the loop's latency adds too |
| launch | one per kernel |

Predicted time = the largest of these + launches, with one exception: HBM bandwidth and loop
latency limit the same flow of bytes, so they enter as (hbm³ + latency³)^(1/3).  Configs whose
SMEM (each streamed tile × num_stages, the query tile once) exceeds 227 KB per block on Hopper,
whose registers exceed 255 per thread, or (Hopper) that do not give each warpgroup 64 rows of
the score tile (BLOCK_M 64 with 8 warps, 128 with 4) are rejected; occupancy follows from SMEM, registers
and threads.  The unfused form is a sequence of kernels (each contraction one matmul, every
other op one kernel that reads its arguments from HBM and writes its result there).

What was fitted, and on what: the loop-step constants L = 0.95 µs and B = 88 GB/s, the L2
bandwidth (10 TB/s) and the exponent 3 were set after the first run, from the calibration
shapes only; the chain's FP32/SFU fractions (0.25, 0.65), the second-program factor (0.7)
and the L2-hit step latency (0.4 µs) after the fourth run, by a grid search over the prefill
points of runs 3 and 4 that took at least 0.2 ms (eager timing below that measured host time);
run 5 is the first run with those constants frozen; the tile loads' share (0.15) after run 5,
on runs 3-5; the warpgroup factor g (1.1) after run 8, by a one-constant scan over runs 3-8
(run 9 is its held-out check).  Shapes never used to set a constant are
"held-out"; their Spearman and top-1 results are reported separately.
"""

LIMITS_TEXT = """\
## What this does not show

- @KERNELS@
- Only the variants @VARIANTS@, head dims 64 and 128, bf16, forward, @CAUSAL@, on one GPU
  (above).  Figures in lowering/cost/hardware.py without a measured value are datasheet values.
- Ties: several configs often share a predicted time (same binding resource); the ranking breaks
  ties by the sum of all resource times, which is a heuristic, not part of the model.
- Prefill inputs of 4K keys fit in L2 (50 MB), so repeated timing reads K and V from L2; this
  does not change the ranking (those shapes are tensor-bound) but flatters absolute times.
- "Other placements" of the tail and of elementwise maps are not enumerated: the prover gives
  one stream form per function today.
"""


def _ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for t in range(i, j + 1):
            r[order[t]] = (i + j) / 2 + 1  # ties share their mean rank
        i = j + 1
    return r


def spearman(a, b) -> float:
    """Pearson correlation of the ranks (ties averaged).

    >>> [round(spearman(a, b), 12) for a, b in (([1, 2, 3, 4], [10, 20, 30, 40]),
    ...                                          ([1, 2, 3], [3, 2, 1]))]
    [1.0, -1.0]
    """
    ra, rb = _ranks(a), _ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = math.sqrt(sum((x - ma) ** 2 for x in ra))
    vb = math.sqrt(sum((y - mb) ** 2 for y in rb))
    return cov / (va * vb)


def _svg(rows, path):
    """Log-log scatter of predicted vs measured ms, one colour per form, y = x line."""
    W, H, P = 560, 460, 60
    xs = [r["predicted_ms"] for r in rows] + [r["measured_ms"] for r in rows]
    lo, hi = math.log10(min(xs)) - 0.1, math.log10(max(xs)) + 0.1
    sx = lambda v: P + (math.log10(v) - lo) / (hi - lo) * (W - 2 * P)
    sy = lambda v: H - P - (math.log10(v) - lo) / (hi - lo) * (H - 2 * P)
    col = {"unfused": "#d62728", "fused": "#1f77b4", "split": "#2ca02c"}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<line x1="{sx(10**lo)}" y1="{sy(10**lo)}" x2="{sx(10**hi)}" y2="{sy(10**hi)}" '
           'stroke="#999" stroke-dasharray="4"/>']
    for e in range(math.floor(lo), math.ceil(hi) + 1):
        v = 10.0 ** e
        if lo <= e <= hi:
            out.append(f'<text x="{sx(v)}" y="{H - P + 18}" text-anchor="middle">{v:g}</text>')
            out.append(f'<text x="{P - 6}" y="{sy(v) + 4}" text-anchor="end">{v:g}</text>')
    out.append(f'<text x="{W / 2}" y="{H - 15}" text-anchor="middle">predicted ms</text>')
    out.append(f'<text x="15" y="{H / 2}" transform="rotate(-90 15 {H / 2})" '
               'text-anchor="middle">measured ms</text>')
    for r in rows:
        shape = "circle" if r["variant"] == "spherical" else "rect"
        x, y, c = sx(r["predicted_ms"]), sy(r["measured_ms"]), col[r["form"]]
        if shape == "circle":
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{c}" opacity="0.8"/>')
        else:
            out.append(f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" '
                       f'fill="{c}" opacity="0.8"/>')
    for n, (f, c) in enumerate(col.items()):
        out.append(f'<rect x="{P + 10}" y="{P + 16 * n - 8}" width="10" height="10" fill="{c}"/>'
                   f'<text x="{P + 26}" y="{P + 16 * n + 1}">{f}</text>')
    out.append(f'<text x="{P + 10}" y="{P + 56}">circle: spherical, square: the others</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out))


def _key(r):
    kernel = r.get("kernel", "torch" if r["form"] == "unfused" else "hand")
    return (kernel, r["variant"], r["shape"], r["form"], r["splits"],
            tuple(sorted(r["config"].items())))


def _png(rows, path, gpu: str = "the GPU") -> bool:
    """The same scatter as a PNG, when matplotlib is importable (it is no project dependency:
    run `report` with a Python that has it, e.g. a throwaway venv); `gpu` names the device the
    times were measured on."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6.4, 5.2), dpi=120)
    col = {"unfused": "#d62728", "fused": "#1f77b4", "split": "#2ca02c"}
    markers = dict(zip(sorted({r["variant"] for r in rows}), "os^Dvp<>*h"))
    for variant, marker in markers.items():
        for form, c in col.items():
            for set_, fill in (("calibration", c), ("held-out", "none")):
                pts = [r for r in rows if r["variant"] == variant and r["form"] == form
                       and r.get("set", "calibration") == set_]
                if pts:
                    ax.scatter([r["predicted_ms"] for r in pts], [r["measured_ms"] for r in pts],
                               marker=marker, facecolors=fill, edgecolors=c, s=28,
                               label=f"{variant} {form} ({set_})")
    lo = min(min(r["predicted_ms"], r["measured_ms"]) for r in rows) / 1.3
    hi = max(max(r["predicted_ms"], r["measured_ms"]) for r in rows) * 1.3
    ax.plot([lo, hi], [lo, hi], "--", color="#999", lw=1)
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi), xlabel="predicted ms",
           ylabel="measured ms", title=f"napkin cost model vs {gpu} (filled: calibration shapes)")
    ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def _hardware_table(rows) -> list[str]:
    L = ["## Device figures the model uses (lowering/cost/hardware.py)", "",
         "| figure | datasheet / estimate | measured | source |", "|---|---|---|---|"]
    for name, value, meas, src in rows:
        fmt = lambda v: "" if v is None else f"{v:.4g}"
        L.append(f"| {name} | {fmt(value)} | {fmt(meas)} | {src} |")
    return L + [""]


def report(points: list[dict], measured: dict, md_path: str, svg_path: str,
           hardware=None, notes: str = "", rejected=()) -> dict:
    """Match measured results to the plan's points by (variant, shape, form, splits, config)."""
    by_id = {_key(r): r for r in measured["results"]}
    rows = []
    for pt in points:
        r = by_id.get(_key(pt), {})
        if "measured_ms" in r:
            rows.append({**pt, **{k: r[k] for k in ("measured_ms", "rel_err") if k in r}})
    rho = spearman([r["predicted_ms"] for r in rows], [r["measured_ms"] for r in rows])
    rho_set = {}
    for name in ("calibration", "held-out", "repeat"):
        sub = [r for r in rows if r.get("set", "calibration") == name]
        if len(sub) > 2:
            rho_set[name] = (spearman([r["predicted_ms"] for r in sub],
                                      [r["measured_ms"] for r in sub]), len(sub))
    shapes = {}   # (kernel family, variant, shape) -> rows; the eager point joins each family
    for r in rows:
        fams = [r["kernel"]] if r.get("kernel", "hand") != "torch" else ["hand", "generated"]
        for fam in fams:
            shapes.setdefault((fam, r["variant"], r["shape"]), []).append(r)
    shapes = {k: v for k, v in shapes.items() if any(r.get("kernel") != "torch" for r in v)}
    for fam in ("hand", "generated"):
        sub = [r for r in rows if r.get("kernel", "hand") in (fam, "torch")]
        if len(sub) > 2 and any(r.get("kernel", "hand") == fam for r in sub):
            rho_set[f"{fam} kernels (+ eager)"] = (
                spearman([r["predicted_ms"] for r in sub], [r["measured_ms"] for r in sub]),
                len(sub))
    top1 = []
    for (fam, variant, shape), rs in shapes.items():
        best = min(rs, key=lambda r: r["measured_ms"])
        pick = min(rs, key=_rank_key)
        set_ = next(r.get("set") for r in rs if r.get("kernel") != "torch") or (
            "calibration" if fam == "hand" and shape in CALIBRATION else "held-out")
        top1.append((f"{fam}: {variant}", shape, pick, best,
                     pick["measured_ms"] <= 1.1 * best["measured_ms"], set_))
    # where the plan timed the model's short list of three (run 10 on): the fastest of them,
    # what an exported module's autotune / `export --tune 3` launches
    # (a listed point that did not run is skipped, as autotune skips it; `unlisted` counts them)
    tuned = {}
    for (fam, variant, shape), rs in shapes.items():
        timed = [r for r in rs if r.get("model_shortlist") is not None]
        if timed:
            t = min(timed, key=lambda r: r["measured_ms"])
            best = min(r["measured_ms"] for r in rs)
            tuned[(f"{fam}: {variant}", shape)] = (t, t["measured_ms"] <= 1.1 * best)
    unlisted = (sum(pt.get("model_shortlist") is not None for pt in points) -
                sum(r.get("model_shortlist") is not None for r in rows))
    split_vs = []  # decoding: (who, shape, best unsplit, model's split pick or None, best split)
    for (fam, variant, shape), rs in shapes.items():
        if rs[0].get("sizes", {}).get("i") == 1 or shape.startswith("decode"):
            uns = [r for r in rs if r["form"] == "fused"]
            spl = [r for r in rs if r["form"] == "split"]
            if uns and spl:
                pick = min(spl, key=_rank_key)
                split_vs.append((f"{fam}: {variant}", shape, min(r["measured_ms"] for r in uns),
                                 pick, min(r["measured_ms"] for r in spl)))
    _svg(rows, svg_path)
    f = measured["facts"]
    has_png = _png(rows, svg_path[:-4] + ".png", f.get("gpu", "the GPU"))
    L = ["# Cost model: predicted vs measured", "",
         "Generated by `bench/costmodel.py report` from a run of `bench/costmodel.py measure`.",
         "", _timing_text(measured), "", notes, MODEL_TEXT, "## Device", "",
         f"- {f['gpu']}, {f['sms']} SMs; torch {f['torch']}, triton {f['triton']}, CUDA "
         f"{f['cuda']}; measured {f['date_utc']} UTC.",
         f"- HBM copy (bytes read + written): {f['hbm_copy_bytes_per_s'] / 1e12:.2f} TB/s; "
         f"dense bf16 matmul 8192³: {f['bf16_matmul_flops'] / 1e12:.0f} TFLOP/s; "
         f"exp2 throughput: {f['exp_per_s'] / 1e12:.2f} Tops/s; one small launch: "
         f"{f['launch_s'] * 1e6:.1f} µs" + (f"; L2 read by all SMs: "
         f"{f['l2_read_bytes_per_s'] / 1e12:.2f} TB/s." if "l2_read_bytes_per_s" in f else "."),
         "",
         "## Summary", "",
         f"- points measured: {len(rows)} of {len(points)}; Spearman rank correlation of "
         f"predicted vs measured time: **{rho:.3f}** (target ≥ 0.8)" + "".join(
             f"; {k} shapes only: {v[0]:.3f} ({v[1]} points)" for k, v in rho_set.items()) + ".",
         f"- median |measured / predicted − 1|: "
         f"{sorted(abs(r['measured_ms'] / r['predicted_ms'] - 1) for r in rows)[len(rows) // 2]:.0%}"
         f" (absolute accuracy; the ranking is what the search uses).",
         f"- shapes where the model's top-1 (among the measured points) is within 10% of the "
         f"best measured: **{sum(t[4] for t in top1)} of {len(top1)}** (held-out: "
         f"{sum(t[4] for t in top1 if t[5] == 'held-out')} of "
         f"{sum(t[5] == 'held-out' for t in top1)})."] + ([
         f"- shapes where the fastest of the model's short list of three (its first three tile "
         f"shapes: what `autotune` / `export --tune 3` launches) is within 10% of the best "
         f"measured: "
         f"**{sum(ok for _, ok in tuned.values())} of {len(tuned)}**" + (
             f" ({unlisted} short-list point(s) not measured; the rest of each list scored)"
             if unlisted else "") + "."] if tuned else []) + [""]
    if split_vs:
        L += ["## Decoding: unsplit ÷ split-KV (measured)", "",
              "| kernels: variant | shape | best unsplit ms | model's split pick | its ms | "
              "unsplit ÷ pick | best split ms | unsplit ÷ best split |",
              "|---|---|---|---|---|---|---|---|"]
    for variant, shape, uns, pick, spl in split_vs:
        L.append(f"| {variant} | {shape} | {uns:.4f} | p={pick['splits']} "
                 f"{_desc(pick).split(' ', 2)[-1]} | {pick['measured_ms']:.4f} | "
                 f"**{uns / pick['measured_ms']:.2f}×** | {spl:.4f} | {uns / spl:.2f}× |")
    L += [""] + _host_lines(f) + _auto_lines(measured.get("auto", []), points)
    img = os.path.basename(svg_path[:-4] + ".png" if has_png else svg_path)
    L += ["", f"![predicted vs measured]({img})", "", "## Top-1 per shape", "",
          "| kernels: variant | shape | set | model's pick | its measured ms | best measured | its ms | "
          "within 10% |" + (" fastest of the short list | its ms | within 10% |" if tuned else ""),
          "|---|---|---|---|---|---|---|---|" + ("---|---|---|" if tuned else "")]
    desc = _desc
    for variant, shape, pick, best, ok, set_ in top1:
        t = tuned.get((variant, shape))
        L.append(f"| {variant} | {shape} | {set_} | {desc(pick)} | {pick['measured_ms']:.4f} | "
                 f"{desc(best)} | {best['measured_ms']:.4f} | {'yes' if ok else 'NO'} |" + (
                     f" {desc(t[0])} | {t[0]['measured_ms']:.4f} | {'yes' if t[1] else 'NO'} |"
                     if t else " - | - | - |" if tuned else ""))
    L += ["", "## All points", "",
          "| kernel | variant | shape | form | config | predicted ms | bound | measured ms | "
          "rel err |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        L.append(f"| {r.get('kernel', 'hand')} | {r['variant']} | {r['shape']} | "
                 f"{r['form']} p={r['splits']} | "
                 f"{desc(r).split(' ', 2)[-1] if r['config'] else '-'} | "
                 f"{r['predicted_ms']:.4f} | {r['bound']} | {r['measured_ms']:.4f} | "
                 f"{r.get('rel_err', float('nan')):.1e} |")
    kinds = {r.get("kernel", "hand") for r in rows}
    names = sorted({r["variant"] for r in rows})
    limits = LIMITS_TEXT.replace("@VARIANTS@", ", ".join(names)).replace("@CAUSAL@", (
        "causal only as causal_inline (the mask built from positions,\n  so the kernel skips "
        "the key blocks past the diagonal; no mask argument)") if "causal_inline" in names
        else "non-causal")
    limits = limits.replace("@KERNELS@", (
        "The kernels timed are the hand-written Triton loops of bench/costmodel_kernels.py (the "
        "loop\n  structure the lowering emits), unless a row says `generated`." if "hand" in kinds
        else "Every kernel timed was generated by the lowering (bench/generated_cm/, written by "
        "kernels/export.py\n  from the proven examples); no hand-written kernel is involved."))
    L += ["", limits] + (_hardware_table(hardware) if hardware else [])
    if rejected:
        L += ["", "Measured, but the model now rejects the config (not scored):", ""] + [
            f"- {r.get('kernel', 'hand')} {r['variant']} {r['shape']} {_desc(r)}: {r['reason']}"
            for r in rejected]
    failed = [(pt, by_id.get(_key(pt), {})) for pt in points if "measured_ms" not in
              by_id.get(_key(pt), {})]
    if failed:
        L += ["", "Not measured:", ""] + [f"- {p['variant']} {p['shape']} {desc(p)}: "
                                          f"{r.get('error', 'no result')}" for p, r in failed]
    with open(md_path, "w") as fh:
        fh.write("\n".join(L) + "\n")
    return {"spearman": rho, "spearman_by_set": rho_set, "n": len(rows),
            "timing": measured.get("timing", "eager"),
            "top1": [(t[0], t[1], t[4]) for t in top1],
            "shortlist_of_3": [(k[0], k[1], ok) for k, (_, ok) in tuned.items()],
            "decode_unsplit_over_split": [
                {"kernels": v, "shape": sh, "unsplit_ms": u, "pick_splits": pk["splits"],
                 "unsplit_over_pick": u / pk["measured_ms"], "unsplit_over_best_split": u / b}
                for v, sh, u, pk, b in split_vs]}


def _timing_text(measured: dict) -> str:
    """How the points were timed: CUDA-graph replays (measure --graph: GPU time) or do_bench of
    the eager call (runs 1-4, whose files carry no "timing"), and any point that fell back."""
    res = [r for r in measured["results"] if "measured_ms" in r]
    graph = [r for r in res if r.get("timing") == "graph"]
    if not graph:
        return ("**Timing: do_bench of the eager call** (triton.testing.do_bench, median).  A "
                "kernel shorter than the host's per-call time (100-200 µs for a generated "
                "module's Python) measures the host, not the GPU.")
    ks = sorted(r["graph_calls"] for r in graph)
    text = (f"**Timing: CUDA-graph replay (GPU time).**  Each kernel was called K times "
            f"(K = {ks[0]}-{ks[-1]}, for about {GRAPH_WORK_MS:g} ms of work, at most "
            f"{GRAPH_MAX_CALLS} calls) inside one CUDA graph "
            "after a correctness check and a warm-up; do_bench (median) of the replay ÷ K is "
            "its time, without Python's per-call host time.  Within a replay the L2 cache is not "
            "flushed between calls, so inputs that fit in L2 (50 MB) are read from it after the "
            "first call.")
    eager = [r for r in res if r.get("timing") != "graph"]
    if eager:
        text += (f"  Not captured, so timed eagerly (do_bench of the call; {len(eager)} of "
                 f"{len(res)} points): " + "; ".join(
                     f"{r['variant']} {r['shape']} {_desc(r)}: {r.get('graph_error', '?')[:80]}"
                     for r in eager) + ".")
    return text


def _rank_key(r) -> tuple:
    """The model's order of planned points (lowering/cost/core.py: rank_key, in ms): ties in
    predicted time go to the lighter total of resource times, then fewer splits, then the
    config, as the search itself breaks them."""
    return (round(r["predicted_ms"], 9), sum(r.get("breakdown_ms", {}).values()),
            r["splits"], sorted(r["config"].items()))


def _desc(r) -> str:
    return f"{r['form']} p={r['splits']} " + " ".join(
        f"{k.replace('BLOCK_', '').replace('num_', '')}={v}" for k, v in r["config"].items())


def _host_lines(facts: dict) -> list[str]:
    """The per-call host floor of the generated modules (measure's `host_floor`), if measured."""
    h = facts.get("host_floor")
    if not h:
        return []
    L = ["## Per-call host floor of a generated module", "",
         "Wall time per call, back to back, on a tiny decoding shape (1 query, 256 keys, "
         "D = 128; the GPU work is a few µs, so this is the host's time per call): the "
         "module's own choice (after its first call), unsplit, split in 4.", "",
         "| module | own choice µs | unsplit µs | split 4 µs | model ranking, once per shape |",
         "|---|---|---|---|---|"]
    for variant, r in h.items():
        if isinstance(r, dict) and "error" in r:
            L.append(f"| {variant} | failed: {r['error'][:80]} | | | |")
        elif isinstance(r, dict):
            L.append(f"| {variant} | {r['auto_wall_s'] * 1e6:.1f} | {r['p1_wall_s'] * 1e6:.1f} | "
                     f"{r['p4_wall_s'] * 1e6:.1f} | {r['choose_s'] * 1e3:.1f} ms |")
    if "torch_add_wall_s" in h:
        L.append(f"| (one torch `add_`) | {h['torch_add_wall_s'] * 1e6:.1f} | | | |")
    return L + [""]


def _auto_lines(auto: list[dict], points: list[dict]) -> list[str]:
    """Whether each module, left to choose on the measuring GPU, launched the plan's top-1."""
    if not auto:
        return []
    top = {(p["variant"], p["shape"]): p for p in points if p.get("model_top1")}
    L = ["## What the modules launch by themselves", "",
         "| variant | shape | module's choice on this GPU | = plan's top-1 | ranking ms |",
         "|---|---|---|---|---|"]
    same = 0
    for a in auto:
        if "auto_config" not in a:
            L.append(f"| {a['variant']} | {a['shape']} | failed: {a['error'][:80]} | NO | |")
            continue
        c, t = a["auto_config"], top.get((a["variant"], a["shape"]))
        ok = t is not None and c["splits"] == t["splits"] and (
            c["block_m"], c["block_n"], c["num_warps"], c["num_stages"]) == tuple(
            t["config"][k] for k in ("BLOCK_M", "BLOCK_N", "num_warps", "num_stages"))
        same += ok
        L.append(f"| {a['variant']} | {a['shape']} | p={c['splits']} BM={c['block_m']} "
                 f"BN={c['block_n']} w={c['num_warps']} st={c['num_stages']} | "
                 f"{'yes' if ok else 'NO'} | {a['choose_s'] * 1e3:.1f} |")
    return L + ["", f"{same} of {len(auto)} launch the plan's top-1.", ""]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    # the set names from the tables, so a new held-out run needs no edit here
    held = ", ".join(HELD_OUT_SETS)
    graph = ", ".join(s for s in HELD_OUT_SETS if s in GRAPH_TIMED)
    p = sub.add_parser("plan")
    p.add_argument("--set", choices=("run2", *HELD_OUT_SETS), default="run2",
                   help="run2: the calibration + held-out shapes, hand and generated kernels; "
                   f"{held}: held-out plans of generated kernels only (the plans of {graph} "
                   "ask measure for CUDA-graph timing)")
    p.add_argument("--device", default="h100")
    p.add_argument("--dtype", default="bf16")
    p.add_argument("--out", help=f"default {os.path.basename(PLAN)}, or "
                   f"costmodel_plan_<set>.json with --set {held}")
    p.add_argument("--cost-only", action="store_true",
                   help="re-cost the points without rewriting bench/generated_cm/")
    p.add_argument("--recost", metavar="FILE",
                   help="re-cost an earlier run's points (its plan, or its measured file when "
                   "it kept no plan) with the model as it is now; needs --out")
    m = sub.add_parser("measure")
    m.add_argument("--plan", default=PLAN, help="the plan whose points to time")
    m.add_argument("--out", default=os.environ.get("OUT", "out"))
    m.add_argument("--warmup", type=int, help="do_bench warm-up ms (default: the plan's, or 25)")
    m.add_argument("--rep", type=int, help="do_bench ms per point (default: the plan's, or 100)")
    t = m.add_mutually_exclusive_group()
    t.add_argument("--graph", action="store_true", default=None,
                   help="time CUDA-graph replays of each kernel (GPU time without the host's "
                   f"per-call time); the default when the plan says \"timing\": \"graph\" ({graph})")
    t.add_argument("--eager", dest="graph", action="store_false",
                   help="time the eager call with do_bench, whatever the plan says")
    f = sub.add_parser("facts", help="measure the device figures only (torch + triton)")
    f.add_argument("--out", default=os.environ.get("OUT", "out"))
    r = sub.add_parser("report")
    r.add_argument("measured")
    r.add_argument("--plan", default=PLAN, help="the plan whose predictions to compare")
    r.add_argument("--notes", help="a markdown file placed after the title (hand-written)")
    r.add_argument("--md", default=os.path.join(HERE, "..", "docs", "costmodel.md"))
    r.add_argument("--svg", default=os.path.join(HERE, "..", "docs", "costmodel.svg"))
    a = ap.parse_args(argv)
    if a.cmd == "plan":
        from wirefuse.lowering.cost.hardware import get_device
        hw = [list(r) for r in get_device(a.device).table()]
        if a.recost:
            if not a.out:
                ap.error("plan --recost needs --out (the earlier plan stays as it was)")
            with open(a.recost) as fh:
                doc = {"device": a.device, "hardware": hw,
                       **recost(json.load(fh), a.device, a.dtype)}
            with open(a.out, "w") as fh:
                json.dump(doc, fh, indent=1)
            print(f"{len(doc['points'])} points re-costed ({len(doc['rejected'])} rejected now) "
                  f"-> {a.out}")
            return
        held = a.set in HELD_OUT_SETS
        pts = (plan_held_out(a.set, a.device, a.dtype, write_modules=not a.cost_only) if held
               else plan(a.device, a.dtype, write_modules=not a.cost_only))
        out = a.out or (HELD_OUT_SETS[a.set][3] if held else PLAN)
        doc = {"device": a.device, "hardware": hw, "points": pts}
        if held:  # run 3: 112 points in about 5 minutes of an H100, compiles included
            doc = {"set": a.set, "do_bench": {"warmup": 10, "rep": 40},
                   **({"timing": "graph"} if a.set in GRAPH_TIMED else {}), **doc}
        with open(out, "w") as fh:
            json.dump(doc, fh, indent=1)
        print(f"{len(pts)} points -> {out}")
    elif a.cmd == "measure":
        with open(a.plan) as fh:
            planned = json.load(fh)
        bench = planned.get("do_bench", {})
        graph = a.graph if a.graph is not None else planned.get("timing") == "graph"
        measure(planned["points"], a.out, a.warmup or bench.get("warmup", 25),
                a.rep or bench.get("rep", 100), graph)
    elif a.cmd == "facts":
        facts_main(a.out)
    else:
        with open(a.plan) as fh:
            planned = json.load(fh)
        with open(a.measured) as fh:
            meas = json.load(fh)
        notes = open(a.notes).read() if a.notes else ""
        print(json.dumps(report(planned["points"], meas, a.md, a.svg, planned["hardware"],
                                notes, planned.get("rejected", ())), indent=1))


if __name__ == "__main__":
    main()
