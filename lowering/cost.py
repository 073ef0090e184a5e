"""A napkin GPU cost model (THEORY.md §5; seed 004): bytes between levels, residency, FLOPs by unit.

The work and the tile traffic are counted from the term (lowering/cost_counts.py: contractions
on tensor cores, exp/log/sqrt/... on the special-function unit, the rest on FP32 units; every
input loaded once per block of each grid axis it lacks).  This module turns them into times for
a candidate (form, splits, tile config) on a device (lowering/hardware.py): per resource, the
binding one, and the predicted total; configs that do not fit SMEM or registers are Rejected.

>>> from wirefuse.lowering.hardware import get_device
>>> sf, term = reference_form("softmax")
>>> sizes = dict(b=1, h=16, i=4096, j=4096, d=128, e=128)
>>> c = fused_candidate(sf, term, sizes, "bf16", get_device("h100"),
...                     dict(BLOCK_M=64, BLOCK_N=64, num_warps=4, num_stages=3))
>>> c.detail["flops_tensor"] == 2 * 16 * 4096 * 4096 * (128 + 128)
True
>>> u = unfused_candidate(term, sizes, "bf16", get_device("h100"))
>>> u.bound, u.predicted_s > 3 * c.predicted_s    # the N×N scores go through HBM
('hbm', True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from ..errors import UserError
from ..rewrite.sexpr import parse
from ..rewrite.term import (Broadcast, Const, Input, Layout, Opaque, Reduce, Rename, Size, State,
                            Term)
from ..theorems.stream import StreamForm, decompose
from .cost_counts import (SFU_OPS, Counts, contraction_factors, node_counts,  # noqa: F401
                          term_counts, tile_traffic, volume as _volume)
from .hardware import DTYPE_BYTES, Spec

RESOURCES = ("tensor", "fp32", "sfu", "hbm", "l2", "latency", "chain", "combine", "launch")


# --------------------------------------------------------------------------------------------
# Roles of the axes of a stream form


@dataclass(frozen=True)
class Roles:
    """stream: the streamed axis; rows: output axes no streamed input carries (tiled by BLOCK_M);
    batch: axes every input carries (one program each); value: output axes kept whole per program;
    inputs: name -> axes."""
    stream: str
    rows: tuple[str, ...]
    batch: tuple[str, ...]
    value: tuple[str, ...]
    inputs: dict


def roles(term: Term, axis: str) -> Roles:
    ins = {t.name: t.axes for t in term.walk() if isinstance(t, Input)}
    streamed = [a for a in ins.values() if axis in a]
    batch = tuple(a for a in term.axes if all(a in ax for ax in ins.values()))
    rows = tuple(a for a in term.axes if a not in batch and not any(a in s for s in streamed))
    value = tuple(a for a in term.axes if a not in batch and a not in rows)
    return Roles(axis, rows, batch, value, ins)


def check_sizes(term: Term, sizes: dict) -> dict:
    """All axes of the term need a positive integer size."""
    need = set()
    for t in term.walk():
        need.update(t.axes)
        if isinstance(t, (Reduce, Opaque)):
            need.add(t.axis)
        if isinstance(t, Size):
            need.add(t.axis)
    out = {}
    for a in sorted(need):
        if a not in sizes:
            raise UserError(f"no size for axis {a}; add {a}=N to --sizes")
        v = sizes[a]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise UserError(f"size of axis {a} must be a positive integer, got {v!r}")
        out[a] = v
    return out


def parse_sizes(spec: str) -> dict:
    """`b=1,h=16,j=65536` -> {'b': 1, 'h': 16, 'j': 65536}.

    >>> parse_sizes("b=1, j=65536")
    {'b': 1, 'j': 65536}
    """
    out = {}
    for part in [p.strip() for p in str(spec).split(",") if p.strip()]:
        name, eq, val = part.partition("=")
        name, val = name.strip(), val.strip()
        if not eq or not name.isidentifier():
            raise UserError(f"bad size {part!r}: write axis=N, e.g. --sizes b=1,h=16,j=65536")
        try:
            n = int(val)
        except ValueError:
            raise UserError(f"size of axis {name} must be a positive integer, got {val!r}") \
                from None
        if n < 1:
            raise UserError(f"size of axis {name} must be a positive integer, got {n}")
        out[name] = n
    if not out:
        raise UserError("empty --sizes: give axis=N for every axis, e.g. b=1,h=16,j=65536")
    return out


# --------------------------------------------------------------------------------------------
# Candidates


@dataclass(frozen=True)
class Candidate:
    """One way to run the term: a form, a split count, a tile config, and what the model says."""
    form: str                       # "fused" | "split" | "unfused"
    splits: int
    config: dict
    predicted_s: float
    bound: str
    breakdown_s: dict               # resource -> seconds
    detail: dict = field(default_factory=dict)   # bytes, FLOPs, residency, occupancy

    @property
    def predicted_ms(self) -> float:
        return self.predicted_s * 1e3

    def to_json(self) -> dict:
        return {"form": self.form, "splits": self.splits, "config": dict(self.config),
                "predicted_ms": self.predicted_ms, "bound": self.bound,
                "breakdown_ms": {k: v * 1e3 for k, v in self.breakdown_s.items()},
                "detail": self.detail}


class Rejected(ValueError):
    """The config does not fit the device (SMEM, registers); the message says which."""


def _padded(sizes: dict, r: Roles, bm: int, bn: int, chunk: int) -> dict:
    """Sizes as one program's tiles compute them: rows rounded up to BLOCK_M, the stream axis
    of each split (chunk keys) rounded up to BLOCK_N."""
    s = dict(sizes)
    if r.rows:
        m = _volume(r.rows, sizes)
        s[r.rows[0]] = sizes[r.rows[0]] * math.ceil(m / bm) * bm / m
    s[r.stream] = math.ceil(chunk / bn) * bn
    return s


def residency(sf: StreamForm, r: Roles, sizes: dict, config: dict, dtype: str) -> dict:
    """SMEM bytes and registers per thread of one fused program (Triton-style software pipeline).

    SMEM: each streamed input's tile (BLOCK_N keys × its other non-batch axes) is buffered
    `num_stages` times; each other input's tile (BLOCK_M rows) is loaded once.  Registers (fp32):
    every state component's accumulator (BLOCK_M × its value axes), the BLOCK_M × BLOCK_N score
    tile in fp32 and once more in the input dtype for the second contraction, the row tiles of
    the non-streamed inputs (live across the loop), plus ~40 for addresses and loop state."""
    bm, bn = config["BLOCK_M"], config["BLOCK_N"]
    stages, warps = config["num_stages"], config["num_warps"]
    elt = DTYPE_BYTES[dtype]

    def tile(axes, keys):
        n = 1
        for a in axes:
            n *= bn if a == r.stream else bm if a in r.rows else 1 if a in r.batch else sizes[a]
        return n
    smem = 0
    for name, axes in r.inputs.items():
        smem += elt * tile(axes, bn) * (max(1, stages) if r.stream in axes else 1)
    acc = 0
    for c in sf.components:
        acc += tile([a for a in c.body.axes if a != r.stream and a not in r.batch], bn)
    scores = bm * bn
    # the row-tile inputs (q) are loaded once and stay live across the whole loop
    held = sum(tile(axes, bn) for axes in r.inputs.values() if r.stream not in axes)
    regs_total = acc + scores + scores * elt / 4 + held * elt / 4
    regs = math.ceil(regs_total / (32 * warps)) + 40
    return {"smem_bytes": int(smem), "regs_per_thread": int(regs)}


def _occupancy(spec: Spec, smem: int, regs: int, warps: int) -> int:
    threads = 32 * warps
    by_smem = spec.smem_per_sm.value // max(smem, 1)
    by_regs = spec.regs_per_sm.value // (math.ceil(regs / 8) * 8 * threads)
    by_threads = spec.max_threads_per_sm.value // threads
    return int(max(0, min(by_smem, by_regs, by_threads, 32)))


MEMORY_NORM = 3  # how sharply HBM bandwidth and loop latency combine (fitted, docs/costmodel.md)


def _finish(form, splits, config, times: dict, detail: dict) -> Candidate:
    """Predicted = the binding resource's time + the combine kernel of a split (it runs after
    the main kernel) + launches.  HBM bandwidth and loop latency limit
    the same flow of bytes, and where both are near their limit neither is reached: they enter
    as one term, (hbm^k + latency^k)^(1/k) (a soft roofline corner), every other as itself."""
    compute = {k: v for k, v in times.items() if k not in ("launch", "combine")}
    bound = max(compute, key=compute.get)
    top = compute[bound]
    if "latency" in compute:
        k = MEMORY_NORM
        memory = (compute["hbm"] ** k + compute["latency"] ** k) ** (1 / k)
        if memory > top:
            top, bound = memory, max(("hbm", "latency"), key=compute.get)
    total = top + times.get("combine", 0.0) + times.get("launch", 0.0)
    return Candidate(form, splits, dict(config), total, bound, times, detail)


def fused_candidate(sf: StreamForm, term: Term, sizes: dict, dtype: str, spec: Spec,
                    config: dict, splits: int = 1) -> Candidate:
    """The stream form as one kernel (splits=1) or split-KV: `splits` programs per row block,
    each folding a chunk of the stream axis, then a combine kernel (⊙ over the p partial states,
    then the tail).  Raises Rejected if the config does not fit."""
    r = roles(term, sf.axis)
    bm, bn = config["BLOCK_M"], config["BLOCK_N"]
    warps, stages = config["num_warps"], config["num_stages"]
    elt = DTYPE_BYTES[dtype]
    res = residency(sf, r, sizes, config, dtype)
    if res["smem_bytes"] > spec.smem_per_block.value:
        raise Rejected(f"needs {res['smem_bytes']} B of SMEM per block; {spec.name} gives "
                       f"{spec.smem_per_block.value}")
    if res["regs_per_thread"] > 255:
        raise Rejected(f"needs {res['regs_per_thread']} registers per thread (255 at most)")
    occ = _occupancy(spec, res["smem_bytes"], res["regs_per_thread"], warps)
    if occ < 1:
        raise Rejected("no block fits on one SM")
    m = _volume(r.rows, sizes)
    across = [t for c in sf.components for t in c.body.walk()
              if isinstance(t, (Reduce, Opaque)) and t.axis in r.rows]
    if across and bm < m:  # e.g. a column softmax: each key's weight needs every query
        raise Rejected(f"the loop body reduces over {across[0].axis}, so one program must hold "
                       f"all {int(m)} rows; BLOCK_M={bm} is smaller")
    n = sizes[sf.axis]
    chunk = math.ceil(n / splits)
    if splits > 1 and chunk < bn:
        raise Rejected(f"{splits} splits leave {chunk} keys each, fewer than BLOCK_N={bn}")
    row_blocks = math.ceil(m / bm)
    programs = int(_volume(r.batch, sizes)) * row_blocks * splits
    # Work: the loop (every component's fold, sharing subterms) on padded tiles, then the tail.
    pad = _padded(sizes, r, bm, bn, chunk)
    pad[sf.axis] = pad[sf.axis] * splits
    folds = [Reduce(c.monoid, sf.axis, c.body) for c in sf.components]
    work = term_counts(folds, pad) + term_counts(sf.tail, pad)
    if sf.shift is not None:
        # running max: max and subtract per element of u; per key block, rescale every
        # accumulator by exp(m_old - m_new) (one exp per row, one multiply per state element).
        u = _volume(sf.shift.axes, pad)
        blocks = pad[sf.axis] / bn
        state = sum(_volume([a for a in c.body.axes if a != sf.axis], pad) for c in sf.components)
        work += Counts(fp32=2 * u + blocks * state, sfu=blocks * u / pad[sf.axis])
    tensor_rate = spec.tensor_rate(dtype) * (1.0 if bm >= 64 else 0.5)  # mma.sync below wgmma M
    # Bytes: each input once per block of the grid axes it lacks (tile_traffic), and per split
    # for inputs without the stream axis; L2 absorbs re-reads by programs resident together.
    tiles = {a: 1 for a in r.batch}
    if r.rows:
        tiles[r.rows[0]] = max(1, bm * r_rows_ratio(r, sizes))
    loads = tile_traffic(r.inputs, sizes, tiles)
    for name, axes in r.inputs.items():
        if sf.axis not in axes:
            loads[name] *= splits
    unique = {name: _volume(axes, sizes) for name, axes in r.inputs.items()}
    slots = spec.sms.value * occ
    waves = math.ceil(programs / slots)
    rereads = max(1, math.ceil(row_blocks * splits / slots))   # co-resident sharers hit L2
    hbm_in = sum(min(loads[x], unique[x] * rereads) for x in loads) * elt
    smem_in = sum(loads.values()) * elt
    out_elems = _volume(term.axes, sizes)
    partial = 0.0
    if splits > 1:
        state_elems = sum(_volume([a for a in c.body.axes if a != sf.axis], sizes)
                          for c in sf.components) + (_volume(sf.shift.axes, sizes) / n
                                                     if sf.shift is not None else 0)
        partial = splits * state_elems * 4  # fp32 partial states, written then read back
    # split: the main kernel writes the partial states, the combine kernel reads them back and
    # writes the output; it runs after the main kernel, so its time adds (see _finish)
    hbm = hbm_in + (partial if splits > 1 else out_elems * elt)
    # Time per resource.  Compute: a full wave puts c_eff programs on each busy SM.
    sms = spec.sms.value
    c_eff = min(occ, math.ceil(programs / sms))
    per_prog = work.scale(1.0 / programs)
    t = {
        "tensor": waves * c_eff * per_prog.tensor / (tensor_rate / sms),
        "fp32": waves * c_eff * per_prog.fp32 / (spec.rate("fp32") / sms),
        "sfu": waves * c_eff * per_prog.sfu / (spec.rate("sfu") / sms),
        "hbm": hbm / spec.rate("hbm"),
        "l2": smem_in / spec.rate("l2"),
    }
    # Latency: a program's loop is a chain of dependent steps.  With max(1, stages-1) key
    # tiles in flight one step costs (L + tile/B) / max(1, stages-1): few programs cannot fill
    # HBM (decoding, unsplit).  Plus one L for the first loads and one for the final store; the
    # combine kernel of a split walks the p partial states one after another.
    key_tile = sum(elt * bn * _volume([a for a in axes if a not in r.batch and a != sf.axis
                                       and a not in r.rows], sizes)
                   for axes in r.inputs.values() if sf.axis in axes)
    lat, stream_bw = spec.loop_latency_s.best, spec.program_stream_bytes_per_s.best
    steps = math.ceil(chunk / bn)
    step_s = (lat + key_tile / stream_bw) / max(1, stages - 1)
    t["latency"] = waves * (steps * step_s + 2 * lat)
    if splits > 1:  # the combine walks the p partial states one after another
        t["combine"] = max((partial + out_elems * elt) / spec.rate("hbm"), splits * lat)
    # Chain: one program cannot overlap its own tensor, FP32 and SFU phases (they depend on
    # each other); c_eff programs per SM overlap one another, which the unit times above
    # already assume.  So the SM is busy at least Σ_units of one program, per wave.
    t["chain"] = waves * (per_prog.tensor / (tensor_rate / sms) + per_prog.fp32 /
                          (spec.rate("fp32") / sms) + per_prog.sfu / (spec.rate("sfu") / sms))
    t["launch"] = spec.launch_s.best * (2 if splits > 1 else 1)
    detail = {"bytes_hbm": hbm + (partial + out_elems * elt if splits > 1 else 0),
              "bytes_to_smem": smem_in + out_elems * elt + 2 * partial,
              "flops_tensor": work.tensor, "flops_fp32": work.fp32, "ops_sfu": work.sfu,
              "programs": programs, "waves": waves, "blocks_per_sm": occ, **res}
    return _finish("split" if splits > 1 else "fused", splits, config, t, detail)


def r_rows_ratio(r: Roles, sizes: dict) -> float:
    """BLOCK_M tiles the product of the row axes; tile_traffic sees only the first row axis, so
    scale its block by that axis's share (1 when there is one row axis)."""
    if len(r.rows) <= 1:
        return 1.0
    return 1.0 / _volume(r.rows[1:], sizes)


def unfused_candidate(term: Term, sizes: dict, dtype: str, spec: Spec) -> Candidate:
    """The term run op by op (PyTorch eager): every contraction is one library matmul, every
    other elementwise op or reduction over arrays one kernel; each reads its array arguments from
    HBM and writes its result there.  Time = Σ over kernels of (max of its resource times +
    a launch)."""
    elt = DTYPE_BYTES[dtype]
    times = {k: 0.0 for k in RESOURCES}
    kernels, hbm_total = 0, 0.0
    binding = {k: 0.0 for k in ("tensor", "fp32", "sfu", "hbm")}
    absorbed = {id(t.body) for t in term.walk() if contraction_factors(t) is not None}
    for t in term.walk():
        if isinstance(t, (Input, State, Const, Size, Broadcast, Rename, Layout)):
            continue
        if id(t) in absorbed or not t.axes and all(not c.axes for c in t.children):
            continue  # a matmul's product, or scalar arithmetic on the host
        factors = contraction_factors(t)
        args = factors if factors is not None else t.children
        byts = sum(_volume(a.axes, sizes) for a in args if a.axes) * elt + \
            _volume(t.axes, sizes) * elt
        w = node_counts(t, sizes)
        k = {"tensor": w.tensor / spec.tensor_rate(dtype), "fp32": w.fp32 / spec.rate("fp32"),
             "sfu": w.sfu / spec.rate("sfu"), "hbm": byts / spec.rate("hbm")}
        b = max(k, key=k.get)
        for r_, v in k.items():
            times[r_] += v           # the breakdown: every resource's total over the kernels
        binding[b] += k[b]           # the prediction: each kernel waits for its slowest unit
        kernels += 1
        hbm_total += byts
    times = {k: v for k, v in times.items() if k in ("tensor", "fp32", "sfu", "hbm")}
    times["launch"] = spec.launch_s.best * kernels
    bound = max(binding, key=binding.get)
    return Candidate("unfused", 1, {"kernels": kernels}, sum(binding.values()) + times["launch"],
                     bound, times, {"bytes_hbm": hbm_total, "kernels": kernels})


# --------------------------------------------------------------------------------------------
# Hand-written normal forms of spherical and softmax attention: fixed references for the
# tests and doctests, independent of what the prover extracts

SCORE = "(mul 0.088 (sum@d (mul q[b,h,i,d] k[b,h,j,d])))"
SPHERICAL = (f"(layout@b,h,i,e (div (sum@j (mul S v[b,h,j,e])) (sqrt (sum@j (square S)))))"
             .replace("S", SCORE))
SOFTMAX = (f"(layout@b,h,i,e (div (sum@j (mul (exp S) v[b,h,j,e])) (sum@j (exp S))))"
           .replace("S", SCORE))


def reference_form(name: str) -> tuple[StreamForm, Term]:
    """(stream form along j, term) of 'spherical' or 'softmax' attention (softmax with shift s).

    >>> sf, t = reference_form("softmax")
    >>> [c.monoid for c in sf.components], sf.shift is not None
    (['sum', 'sum'], True)
    """
    src = {"spherical": SPHERICAL, "softmax": SOFTMAX}[name]
    term = parse(src)
    sf = decompose(term, "j")
    if name == "softmax":
        sf = replace(sf, shift=parse(SCORE))
    return sf, term
