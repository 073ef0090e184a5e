"""A napkin GPU cost model (docs/theory.md §10): bytes between levels, residency, FLOPs by unit.

The work and the tile traffic are counted from the term (lowering/cost/counts.py: contractions
on tensor cores, exp/log/sqrt/... on the special-function unit, the rest on FP32 units; every
input loaded once per block of each grid axis it lacks).  This module turns them into times for
a candidate (form, splits, tile config) on a device (lowering/cost/hardware.py): per resource, the
binding one, and the predicted total; configs that do not fit SMEM or registers are Rejected.

>>> from wirefuse.lowering.cost.hardware import get_device
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

from wirefuse.rewrite.errors import UserError
from wirefuse.rewrite.ir.sexpr import parse
from wirefuse.rewrite.ir.term import (Broadcast, Const, Elem, Input, Layout, Opaque, Reduce, Rename, Size,
                            State, Term)
from wirefuse.theorems.stream import StreamForm, decompose, substitute
from wirefuse.lowering.loopnest.causal import fold_known
from wirefuse.lowering.loopnest.nest import shift_power
from wirefuse.lowering.cost.core import RESOURCES, Rejected, fused_time  # noqa: F401  (Rejected: re-exported)
from wirefuse.lowering.cost.counts import (SFU_OPS, Counts, contraction_factors, node_counts,  # noqa: F401
                          term_counts, tile_traffic, volume as _volume, work_terms)
from wirefuse.lowering.cost.hardware import DTYPE_BYTES, Spec


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


def roles(term: Term, axis: str, nest=None) -> Roles:
    """The axes' roles; `nest`: the generator's loop nest for the form (`_loopnest`), if any."""
    ins = {t.name: t.axes for t in term.walk() if isinstance(t, Input)}
    if nest is not None:  # the generator's own reading: a mask over (i, j) or shared K/V heads
        rows, batch = (nest.row,), tuple(nest.group)  # do not hide the row and group axes
        value = tuple(a for a in term.axes if a not in batch and a not in rows)
        return Roles(axis, rows, batch, value, ins)
    streamed = [a for a in ins.values() if axis in a]
    batch = tuple(a for a in term.axes if all(a in ax for ax in ins.values()))
    rows = tuple(a for a in term.axes if a not in batch and not any(a in s for s in streamed))
    value = tuple(a for a in term.axes if a not in batch and a not in rows)
    return Roles(axis, rows, batch, value, ins)


def _loopnest(sf: StreamForm, causal: str | None = None, strict: bool = False,
              degrees: dict | None = None):
    """The loop nest the generator builds for sf (with `causal`, a mask argument taken as
    j ≤ i and checked as `export --causal` checks it; `degrees`, the certificate's shift
    degrees, as export passes them: loopnest.certificate_degrees), or None where it has none
    (hand-written forms the generator does not lower: then roles() reads the axes from the
    inputs), unless `strict`: then the lowering's one-line reason is raised."""
    from wirefuse.lowering.loopnest.nest import build_loopnest, check_causal_skip, simplify_tail
    try:
        nest = build_loopnest(StreamForm(sf.axis, sf.components, simplify_tail(sf.tail),
                                         sf.shift), causal=causal, degrees=degrees)
        if causal:
            check_causal_skip(nest)
        return nest
    except UserError:  # loopnest.Unsupported is one
        if strict:
            raise
        return None


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


def skips_causal(sf: StreamForm, causal: str | None = None, strict: bool = False,
                 degrees: dict | None = None) -> bool:
    """Whether the generated kernel skips the key blocks past the diagonal: a boolean mask
    argument `causal` taken as j ≤ i (`export --causal`), or a mask the tracer built from
    positions (#j ≤ #i, e.g. torch.tril of ones) that the loop nest recognises exactly.  False
    for a form the lowering does not take (the cost model then counts every block), unless
    `strict`: then the lowering's one-line reason is raised (a bad `--causal MASK`).
    `degrees`: the certificate's shift degrees (needed where the sum components carry
    different powers of e^u, as export passes them)."""
    nest = _loopnest(sf, causal, strict, degrees)
    return nest is not None and nest.skips_causal


def profile(sf: StreamForm, term: Term, causal: bool | str | None = None,
            degrees: dict | None = None) -> dict:
    """The stream form as plain data for lowering/cost/core.py (and for the modules that
    kernels/export.py writes): the axes' roles, each input's axes, the output's axes, each state
    component's axes (its body's, less the stream axis), the shift's axes, an axis of the rows
    that the loop body reduces over (column softmax) or None, and the work of the loop and the
    tail as size-free terms (cost_counts.work_terms), and whether the kernel skips key blocks
    past the diagonal (`causal`: True/False, a mask argument's name as `export --causal` takes
    it, or None to find out from the form: a mask built from positions).  `degrees`: the
    certificate's shift degrees, so that a form whose sum components carry different powers
    of e^u gets the loop nest export builds (without them the generator has none for it).

    >>> p = profile(*reference_form("softmax"))
    >>> p["stream"], p["rows"], p["batch"], p["states"], p["shift"]
    ('j', ('i',), ('b', 'h'), [('b', 'h', 'i', 'e'), ('b', 'h', 'i')], ('b', 'h', 'i', 'j'))
    """
    key = (sf, term, causal, tuple(sorted((degrees or {}).items())))
    if key not in _PROFILES:
        # one build serves the roles and, causal=None, the skipping
        nest = _loopnest(sf, degrees=degrees)
        # with a mask argument, the nest export builds for it (None if it refuses the mask)
        cnest = _loopnest(sf, causal, degrees=degrees) if isinstance(causal, str) else nest
        skips = (causal if isinstance(causal, bool) else
                 cnest is not None and cnest.skips_causal)
        r = roles(term, sf.axis, nest)
        across = [t for c in sf.components for t in c.body.walk()
                  if isinstance(t, (Reduce, Opaque)) and t.axis in r.rows]
        # the kernel's loop over the key blocks wholly below the diagonal knows the mask
        # there and computes none of it; cost_core counts the diagonal blocks' mask apart
        known = cnest.causal_known() if skips and cnest is not None else {}
        shift = fold_known(sf.shift, known) if sf.shift is not None else None
        folds = [Reduce(c.monoid, sf.axis, _powers_as_products(fold_known(c.body, known), shift))
                 for c in sf.components]
        if len(_PROFILES) > 256:
            _PROFILES.clear()
        _PROFILES[key] = {
            "stream": sf.axis, "rows": r.rows, "batch": r.batch,
            # a mask taken as j ≤ i is computed from indices: the kernel never loads it
            "inputs": {x: a for x, a in r.inputs.items()
                       if not (skips and isinstance(causal, str) and x == causal)},
            "out_axes": term.axes,
            "states": [tuple(a for a in c.body.axes if a != sf.axis) for c in sf.components],
            "shift": sf.shift.axes if sf.shift is not None else None,
            "across": across[0].axis if across else None,
            "causal": bool(skips and len(r.rows) == 1),
            "work": work_terms(folds, _bare_exps(folds, shift)) + work_terms(sf.tail)}
    return _PROFILES[key]


_PROFILES: dict = {}


def _powers_as_products(body: Term, shift) -> Term:
    """body with each e^(k·u) or (e^u)^k factor (k ≥ 2, u the shift) written as e^u·…·e^u, as
    the generator emits it (k − 1 multiplies of the one e_u; no pow, no second exp)."""
    if shift is None:
        return body
    powers = {t: shift_power(t, shift) for t in body.walk()}
    return substitute(body, {t: Elem("mul", (Elem("exp", (shift,)),) * k)
                             for t, k in powers.items() if k >= 2})


def _bare_exps(folds, shift) -> frozenset:
    """The exp nodes the generator emits as one bare ex2 of the rescaled shift (e^(k·u): the
    running max's e_u, triton_gen's `_shift_log2`): exp of a multiple of the shift."""
    if shift is None:
        return frozenset()
    out = set()
    for f in folds:
        for t in f.walk():
            if isinstance(t, Elem) and t.op == "exp" and shift_power(t, shift):
                out.add(t)
    return frozenset(out)


def fused_candidate(sf: StreamForm, term: Term, sizes: dict, dtype: str, spec: Spec,
                    config: dict, splits: int = 1, causal: bool | str | None = None,
                    degrees: dict | None = None) -> Candidate:
    """The stream form as one kernel (splits=1) or split-KV: `splits` programs per row block,
    each folding a chunk of the stream axis, then a combine kernel (⊙ over the p partial states,
    then the tail).  Raises Rejected if the config does not fit.  The arithmetic is
    lowering/cost/core.py's `fused_time` (shared with the exported modules); `causal` as in
    `profile`, and `degrees` (the certificate's shift degrees)."""
    spec.tensor_rate(dtype)  # a one-line UserError for a dtype the device has no rate for
    total, bound, times, detail = fused_time(profile(sf, term, causal, degrees), sizes, dtype,
                                             DTYPE_BYTES[dtype], spec.figures(), config, splits)
    return Candidate("split" if splits > 1 else "fused", splits, dict(config), total, bound,
                     times, detail)


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
