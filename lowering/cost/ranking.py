"""Rank the ways to run a proven term: forms × split counts × tile configs, best first.

Forms: "unfused" (the original term op by op), "fused" (the stream form as one kernel), "split"
(split-KV: the stream axis cut into p chunks folded in parallel, then a combine kernel applying
⊙ and the tail; sound because ⊙ is associative, docs/theory.md §2).  Configs are Triton's:
BLOCK_M (rows per program), BLOCK_N (keys per loop step), num_warps, num_stages.

>>> from wirefuse.lowering.cost.model import reference_form
>>> sf, term = reference_form("spherical")
>>> sizes = dict(b=1, h=16, i=1, j=65536, d=128, e=128)
>>> best = best_candidate(sf, term, sizes, "bf16", "h100")
>>> best.form, best.splits > 1             # decoding: one query, 64K keys: split-KV wins
('split', True)
"""
from __future__ import annotations

import itertools

from wirefuse.rewrite.errors import UserError
from wirefuse.rewrite.ir.term import Term
from wirefuse.theorems.stream import StreamForm
from wirefuse.lowering.cost.model import (Candidate, Rejected, check_sizes, fused_candidate,
                                          profile, unfused_candidate)
from wirefuse.lowering.cost.core import (SPLITS as PARTS, first_per_tile, fitting_tiles, rank_key,
                                         volume, worth_splitting)
from wirefuse.lowering.cost.hardware import Spec, check_dtype, get_device

SPLITS = tuple(p for p in PARTS if p > 1)
FORMS = ("unfused", "fused", "split")
# The tile configs searched, by `explain` and by the modules kernels/export.py writes (CONFIGS)
SPACE = {"BLOCK_M": (16, 32, 64, 128), "BLOCK_N": (32, 64, 128), "num_warps": (4, 8),
         "num_stages": (1, 2, 3, 4)}


def config_space(block_m=SPACE["BLOCK_M"], block_n=SPACE["BLOCK_N"], warps=SPACE["num_warps"],
                 stages=SPACE["num_stages"]) -> list[dict]:
    return [{"BLOCK_M": m, "BLOCK_N": n, "num_warps": w, "num_stages": s}
            for m, n, w, s in itertools.product(block_m, block_n, warps, stages)]


def _spec(device) -> Spec:
    return device if isinstance(device, Spec) else get_device(device)


def rank(stream_form: StreamForm, term: Term, sizes: dict, dtype: str = "bf16",
         device="h100", *, forms=FORMS, splits=SPLITS, configs=None,
         causal: bool | str | None = None, degrees: dict | None = None) -> list[Candidate]:
    """Every candidate the device accepts, sorted by predicted time, best first.  `causal`: a
    boolean mask argument taken as j ≤ i (as `export --causal` takes it), True/False, or None:
    the kernel skips key blocks past the diagonal where the form builds that mask itself.
    `degrees`: the certificate's shift degrees (loopnest.certificate_degrees), which export
    builds the loop nest with."""
    spec = _spec(device)
    check_dtype(dtype, spec)
    sizes = check_sizes(term, sizes)
    if stream_form.axis not in sizes:
        raise UserError(f"no size for the stream axis {stream_form.axis}")
    bad = [f for f in forms if f not in FORMS]
    if bad:
        raise UserError(f"unknown form {bad[0]!r}; known: {', '.join(FORMS)}")
    configs = config_space() if configs is None else configs
    rows = volume(profile(stream_form, term, causal, degrees)["rows"], sizes)
    configs = fitting_tiles(configs, rows)   # as the exported modules' chooser does
    out: list[Candidate] = []
    if "unfused" in forms:
        out.append(unfused_candidate(term, sizes, dtype, spec))
    counts = ([1] if "fused" in forms else []) + (list(splits) if "split" in forms else [])
    for cfg in configs:
        for p in counts:
            try:
                c = fused_candidate(stream_form, term, sizes, dtype, spec, cfg, p, causal,
                                    degrees)
            except Rejected:
                continue
            out.append(c)
            # as cost_core.choose: split-KV only beside an unsplit grid that leaves SMs idle
            if p == 1 and not worth_splitting(c.detail["programs"], spec.sms.value):
                break
    out.sort(key=lambda c: rank_key(c.predicted_s, c.breakdown_s, c.splits, c.config))
    return out


def best_candidate(stream_form: StreamForm, term: Term, sizes: dict, dtype: str = "bf16",
                   device="h100", forms=("fused", "split"), configs=None,
                   causal: bool | str | None = None, degrees: dict | None = None) -> Candidate:
    """The kernel `export` generates: the fastest fused or split-KV candidate (an exported
    module makes the same choice at run time, per call shape, with the same arithmetic).

    Returns a Candidate: `.form` ("fused" or "split"), `.splits` (p, 1 when fused), `.config`
    ({"BLOCK_M", "BLOCK_N", "num_warps", "num_stages"}), `.predicted_ms`, `.bound`."""
    ranked = rank(stream_form, term, sizes, dtype, device, forms=forms, configs=configs,
                  causal=causal, degrees=degrees)
    if not ranked:
        raise UserError("no tile config fits this device for these sizes")
    return ranked[0]


def shortlist(ranked: list[Candidate], k: int = 3) -> list[Candidate]:
    """The first `k` of `rank`'s list with distinct tile shapes (BLOCK_M, BLOCK_N, splits):
    what an exported module times when asked to (`autotune`, `export --tune K`)."""
    tiles = first_per_tile((c.config, c.splits, c) for c in ranked if c.form != "unfused")
    return [t[2] for t in tiles][:k]


def export_config(c: Candidate) -> dict:
    """A candidate as the CONFIG dict of a module written by kernels/export.py.

    >>> from wirefuse.lowering.cost.model import reference_form
    >>> sf, term = reference_form("softmax")
    >>> export_config(best_candidate(sf, term, dict(b=1, h=16, i=1, j=65536, d=128, e=128)))
    {'block_m': 16, 'block_n': 128, 'num_warps': 4, 'num_stages': 3, 'splits': 8}
    """
    if c.form == "unfused":
        raise UserError("the unfused form is plain PyTorch; there is no kernel config to export")
    cfg = c.config
    return {"block_m": cfg["BLOCK_M"], "block_n": cfg["BLOCK_N"], "num_warps": cfg["num_warps"],
            "num_stages": cfg["num_stages"], "splits": c.splits}


def explain(source, axes=None, stream: str = "j", sizes: dict | None = None,
            dtype: str = "bf16", device="h100", shift=None, top: int | None = None,
            forms=FORMS, causal: str | None = None) -> list[Candidate]:
    """Ranked candidates (best first) for `source`: a function (traced and proven by
    wirefuse.prove, its certificate checked), a Term, or an s-expression in stream
    normal form.

    A function the prover cannot stream is ranked with its unfused form alone.  `shift`: the
    running-max term u (s-expression or Term) when `source` is a hand-written softmax-like form.
    `causal`: the name of a boolean (i, j) mask argument that the kernel takes to be j ≤ i and
    skips past (`export --causal`); a mask the function builds from positions is found alone.

    >>> from wirefuse.lowering.cost.model import SPHERICAL
    >>> c = explain(SPHERICAL, sizes=dict(b=1, h=16, i=4096, j=4096, d=128, e=128), top=1)[0]
    >>> c.form, c.detail["ops_sfu"]       # one sqrt per row (16 · 4096): no exp per score
    ('fused', 65536.0)
    """
    from wirefuse.rewrite.ir.sexpr import parse
    from wirefuse.rewrite.ir.term import TermError
    from wirefuse.theorems.stream import NotNormal, decompose
    if not sizes:
        raise UserError("sizes are required, e.g. sizes=dict(b=1, h=16, i=1, j=65536, ...)")
    sf, note, degrees = None, "", None
    if callable(source) and not isinstance(source, Term):
        if axes is None:
            raise UserError("--axes is needed to trace a function, e.g. "
                            "--axes \"q: b h i d, k: b h j d, v: b h j e\"")
        # Trace and prove with wirefuse.prove (search/prover.py), the pipeline `export` and
        # `report` use: a stream form only with a certificate the checker accepted.  The
        # unfused form is the trace.
        from wirefuse.search.prover import prove
        proof = prove(source, axes, stream)
        term = proof.term
        if proof.streamable:
            sf = proof.stream_form
            # the loop nest export builds takes the certificate's shift degrees (components
            # with different powers of e^u have no nest without them)
            from wirefuse.lowering.loopnest.nest import certificate_degrees
            degrees = certificate_degrees(proof.certificate)
        else:
            note = f"not proven streamable along {stream} ({proof.reason})"
        if sf is None:
            forms = tuple(f for f in forms if f == "unfused")
            note += "; ranking the unfused form only"
    else:
        try:
            term = parse(source) if isinstance(source, str) else source
        except TermError as e:
            raise UserError(f"cannot read the term: {e}") from None
        try:
            sf = decompose(term, stream)
        except NotNormal as e:
            raise UserError(f"the term is not in stream normal form along {stream}: {e}") \
                from None
        if shift is not None:
            try:
                u = parse(shift) if isinstance(shift, str) else shift
            except TermError as e:
                raise UserError(f"cannot read the shift term: {e}") from None
            from dataclasses import replace
            sf = replace(sf, shift=u)
    if sf is None:
        from wirefuse.lowering.cost.model import check_sizes, unfused_candidate
        spec = _spec(device)
        check_dtype(dtype, spec)
        ranked = [unfused_candidate(term, check_sizes(term, sizes), dtype, spec)]
    else:
        if causal is not None:
            from wirefuse.lowering.cost.model import skips_causal
            skips_causal(sf, causal, strict=True, degrees=degrees)
        ranked = rank(sf, term, sizes, dtype, device, forms=forms, causal=causal,
                      degrees=degrees)
    out = Ranking(ranked[:top] if top else ranked)
    out.note = note
    return out


class Ranking(list):
    """The ranked candidates, best first; `.note` says why some forms are missing (or "")."""
    note = ""
