"""Work and traffic counted from a term: the napkin cost model's inputs (lowering/cost.py).

Work is counted from the TERM, never from a list of known kernels: walking the distinct nodes of
a term with axis sizes gives

* tensor-core FLOPs: a sum over an axis of a product of two or more arrays that both carry that
  axis (a contraction) costs 2 FLOPs per element of its body (one multiply, one add);
* special-function ops (the SFU / MUFU unit): exp, log, sqrt, rsqrt, tanh, sigmoid (and log1p,
  expm1, sin, cos; pow = one log and one exp), one per element of the node;
* FP32 FLOPs: every other elementwise op (n-ary add/mul: n-1 per element) and every other
  reduction (one combine per element of its body).

Shared subterms count once (terms are hash-consed; a fused kernel computes `s` once per tile).

>>> q, k = parse("q[i,d]"), parse("k[j,d]")
>>> c = term_counts(parse("(sum@d (mul q[i,d] k[j,d]))"), {"i": 4, "j": 8, "d": 16})
>>> c.tensor, c.fp32, c.sfu                     # 2 · i · j · d
(1024.0, 0.0, 0.0)
>>> term_counts(parse("(sum@j (exp x[i,j]))"), {"i": 4, "j": 8})
Counts(tensor=0.0, fp32=32.0, sfu=32.0)

Bytes follow one rule for every tiled kernel (`tile_traffic`): a program owns one tile of each
*grid* axis, so an input that lacks a grid axis is loaded again by every program along it: once per
block of that axis.  For a matmul C[i,k] = Σ_j A[i,j] B[j,k] with BM × BN output tiles that is
`IJK/BN + IJK/BM` elements (THEORY.md §5: about ABC/√M for a cache holding M elements):

>>> tile_traffic({"A": ("i", "j"), "B": ("j", "k")}, {"i": 64, "j": 32, "k": 128},
...              {"i": 16, "k": 32})
{'A': 8192.0, 'B': 16384.0}

The streamed attention is the same rule: K and V lack the query axis, so they are read once per
query block.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..rewrite.sexpr import parse  # noqa: F401  (the doctests use it)
from ..rewrite.term import Elem, Opaque, Reduce, Term

SFU_OPS = {"exp": 1, "log": 1, "sqrt": 1, "rsqrt": 1, "tanh": 1, "sigmoid": 1, "log1p": 1,
           "expm1": 1, "sin": 1, "cos": 1, "pow": 2}




@dataclass(frozen=True)
class Counts:
    tensor: float = 0.0
    fp32: float = 0.0
    sfu: float = 0.0

    def __add__(self, o: "Counts") -> "Counts":
        return Counts(self.tensor + o.tensor, self.fp32 + o.fp32, self.sfu + o.sfu)

    def scale(self, f: float) -> "Counts":
        return Counts(self.tensor * f, self.fp32 * f, self.sfu * f)


def volume(axes, sizes) -> float:
    v = 1.0
    for a in axes:
        v *= sizes[a]
    return v


def _is_array(t: Term) -> bool:
    return bool(t.axes)


def contraction_factors(t: Term) -> tuple[Term, ...] | None:
    """The array factors of a contraction `sum@a (mul x y ...)` (two or more carry a), else None."""
    if not (isinstance(t, Reduce) and t.monoid == "sum" and isinstance(t.body, Elem)
            and t.body.op == "mul"):
        return None
    along = [x for x in t.body.args if t.axis in x.axes]
    return tuple(x for x in t.body.args if _is_array(x)) if len(along) >= 2 else None


def node_counts(t: Term, sizes: dict) -> Counts:
    """The work of one node alone (its children already computed)."""
    if isinstance(t, Reduce):
        vol = volume(t.body.axes if t.axis in t.body.axes else t.body.axes + (t.axis,), sizes)
        factors = contraction_factors(t)
        if factors is not None:
            # array factors beyond two are multiplied in elementwise first
            return Counts(tensor=2 * vol, fp32=max(0, len(factors) - 2) * vol)
        return Counts(fp32=vol)
    if isinstance(t, Elem):
        vol = volume(t.axes, sizes)
        if t.op in SFU_OPS:
            return Counts(sfu=SFU_OPS[t.op] * vol)
        return Counts(fp32=max(1, len(t.args) - 1) * vol)
    if isinstance(t, Opaque):
        return Counts(fp32=volume(t.args[0].axes, sizes))
    return Counts()  # Input, State, Const, Size, Broadcast, Rename, Layout: no arithmetic


_COUNTS_CACHE: dict = {}


def term_counts(roots, sizes: dict) -> Counts:
    """Work to evaluate `roots` (a term or several sharing subterms), counted per node once."""
    roots = (roots,) if isinstance(roots, Term) else tuple(roots)
    key = (roots, tuple(sorted(sizes.items())))
    if key not in _COUNTS_CACHE:
        if len(_COUNTS_CACHE) > 4096:
            _COUNTS_CACHE.clear()
        _COUNTS_CACHE[key] = _term_counts(roots, sizes)
    return _COUNTS_CACHE[key]


def _term_counts(roots: tuple, sizes: dict) -> Counts:
    seen: set[int] = set()
    nodes = []
    for r in roots:
        for t in r.walk():
            if id(t) not in seen:
                seen.add(id(t))
                nodes.append(t)
    # the product under a contraction is done by the tensor core, not as an elementwise op
    absorbed = {id(t.body) for t in nodes if contraction_factors(t) is not None}
    total = Counts()
    for t in nodes:
        if id(t) not in absorbed:
            total += node_counts(t, sizes)
    return total


def tile_traffic(inputs: dict, sizes: dict, tiles: dict) -> dict:
    """Elements each input moves from global memory into the programs, re-reads counted.

    `tiles` maps each grid axis to its block size (1 for a batch axis).  An input is loaded
    once per block of every grid axis it does not carry."""
    out = {}
    for name, axes in inputs.items():
        n = volume(axes, sizes)
        for a, blk in tiles.items():
            if a not in axes:
                n *= math.ceil(sizes[a] / blk)
        out[name] = float(n)
    return out
