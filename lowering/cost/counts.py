"""Work and traffic counted from a term: the napkin cost model's inputs (lowering/cost/model.py).

Work is counted from the TERM, never from a list of known kernels: walking the distinct nodes of
a term with axis sizes gives

* tensor-core FLOPs: a sum over an axis of a product of two or more arrays that both carry that
  axis (a contraction) costs 2 FLOPs per element of its body (one multiply, one add);
* special-function ops (the SFU / MUFU unit): exp, log, sqrt, rsqrt (and log1p, expm1, sin,
  cos), one per element of the node; pow = one log and one exp; sigmoid and tanh = an ex2 and
  an rcp each, plus the FP32 instructions their lowering issues (SFU_FP32);
* FP32 FLOPs: every other elementwise op (n-ary add/mul: n-1 per element) and every other
  reduction (one combine per element of its body).

Shared subterms count once (terms are hash-consed; a fused kernel computes `s` once per tile).

>>> q, k = parse("q[i,d]"), parse("k[j,d]")
>>> c = term_counts(parse("(sum@d (mul q[i,d] k[j,d]))"), {"i": 4, "j": 8, "d": 16})
>>> c.tensor, c.fp32, c.sfu                     # 2 · i · j · d
(1024.0, 0.0, 0.0)
>>> term_counts(parse("(sum@j (exp x[i,j]))"), {"i": 4, "j": 8})    # add + exp's 4 (SFU_FP32)
Counts(tensor=0.0, fp32=160.0, sfu=32.0)

Bytes follow one rule for every tiled kernel (`tile_traffic`): a program owns one tile of each
*grid* axis, so an input that lacks a grid axis is loaded again by every program along it: once per
block of that axis.  For a matmul C[i,k] = Σ_j A[i,j] B[j,k] with BM × BN output tiles that is
`IJK/BN + IJK/BM` elements (docs/theory.md §10: about ABC/√M for a cache holding M elements):

>>> tile_traffic({"A": ("i", "j"), "B": ("j", "k")}, {"i": 64, "j": 32, "k": 128},
...              {"i": 16, "k": 32})
{'A': 8192.0, 'B': 16384.0}

The streamed attention is the same rule: K and V lack the query axis, so they are read once per
query block.
"""
from __future__ import annotations

from dataclasses import dataclass

from wirefuse.rewrite.ir.sexpr import parse  # noqa: F401  (the doctests use it)
from wirefuse.rewrite.ir.term import Elem, Opaque, Reduce, Term
from wirefuse.lowering.cost.core import counts, tile_traffic, volume  # noqa: F401  (tile_traffic: re-exported)

SFU_OPS = {"exp": 1, "log": 1, "sqrt": 1, "rsqrt": 1, "tanh": 2, "sigmoid": 2, "log1p": 1,
           "expm1": 1, "sin": 1, "cos": 1, "pow": 2}
# FP32-pipe instructions that come with an SFU op in the generated code, as compiled for sm_90
# (triton 3.6; counted in the SASS of the generated sigmoid and softcap kernels, H100,
# 2026-11-23: MUFU, FMUL, FADD, FFMA, FSETP, FSEL and FMNMX per score of the loop, less what
# the rest of the body accounts for).  tl.sigmoid(x) is 1 / (1 + exp(-x)): a multiply by
# -log2 e, ex2 with its range fix-up (ex2.approx.f32 is not flush-to-zero: a compare, two
# multiplies and a select around MUFU.EX2), an add of 1 and div.full (MUFU.RCP with its own
# range scaling): about 10.  tanh is triton_gen's `_tanh`, sign(x)·(1 − e^(−2|x|)) /
# (1 + e^(−2|x|)): the same ex2 and div.full plus |x|·−2, 1 ∓ t and the select by sign, whose
# predicate the compiler packs into integer registers: about 20.  A plain exp is tl.exp: a
# multiply by log2 e and the same ex2 with its fix-up, 4.  The shifted e^u of a running max
# (softmax) is emitted as tl.exp2 of u − M with log2 e folded into the score's scale, and its
# ex2 flushes to zero: none (`work_terms(..., folded=)`).
SFU_FP32 = {"sigmoid": 10, "tanh": 20, "exp": 4}




@dataclass(frozen=True)
class Counts:
    tensor: float = 0.0
    fp32: float = 0.0
    sfu: float = 0.0

    def __add__(self, o: "Counts") -> "Counts":
        return Counts(self.tensor + o.tensor, self.fp32 + o.fp32, self.sfu + o.sfu)

    def scale(self, f: float) -> "Counts":
        return Counts(self.tensor * f, self.fp32 * f, self.sfu * f)


def _is_array(t: Term) -> bool:
    return bool(t.axes)


def contraction_factors(t: Term) -> tuple[Term, ...] | None:
    """The array factors of a contraction `sum@a (mul x y ...)` (two or more carry a), else None."""
    if not (isinstance(t, Reduce) and t.monoid == "sum" and isinstance(t.body, Elem)
            and t.body.op == "mul"):
        return None
    along = [x for x in t.body.args if t.axis in x.axes]
    return tuple(x for x in t.body.args if _is_array(x)) if len(along) >= 2 else None


def node_work(t: Term, folded=frozenset()) -> list:
    """The work of one node alone (its children already computed), as a list of (axes, tensor,
    fp32, sfu): each count is its coefficient times the product of those axes' sizes.  A node
    in `folded` is an SFU op the generator emits bare (no FP32 fix-up around it).

    A contraction of more than two array factors multiplies the extra ones in elementwise
    first.  Where one factor alone carries an axis of the result (the value side: v's e in
    Σ_j e^u·e^u·v), the others are multiplied over their own axes (a weight tile over i, j),
    as the generated kernel does before its dot; otherwise over the whole body:

    >>> node_work(parse("(sum@j (mul a[i,j] b[i,j] v[j,e]))"))
    [[('i', 'j', 'e'), 2, 0, 0], [('i', 'j'), 0, 1, 0]]
    """
    if isinstance(t, Reduce):
        axes = t.body.axes if t.axis in t.body.axes else t.body.axes + (t.axis,)
        factors = contraction_factors(t)
        if factors is None:
            return [[axes, 0, 1, 0]]
        if len(factors) <= 2:
            return [[axes, 2, 0, 0]]
        private = [k for k, x in enumerate(factors)  # by place: a factor may repeat (e^u·e^u)
                   if set(x.axes) - {a for n, y in enumerate(factors) if n != k for a in y.axes}]
        if len(private) != 1:
            return [[axes, 2, len(factors) - 2, 0]]
        rest = [y for n, y in enumerate(factors) if n != private[0]]
        weight = tuple(a for a in axes if any(a in y.axes for y in rest))
        return [[axes, 2, 0, 0], [weight, 0, len(rest) - 1, 0]]
    if isinstance(t, Elem):
        if t.op in SFU_OPS:
            return [[t.axes, 0, 0 if t in folded else SFU_FP32.get(t.op, 0), SFU_OPS[t.op]]]
        return [[t.axes, 0, max(1, len(t.args) - 1), 0]]
    if isinstance(t, Opaque):
        return [[t.args[0].axes, 0, 1, 0]]
    return []  # Input, State, Const, Size, Broadcast, Rename, Layout: no arithmetic


def node_counts(t: Term, sizes: dict) -> Counts:
    """The work of one node alone (its children already computed)."""
    out = Counts()
    for axes, ct, cf, cs in node_work(t):
        v = volume(axes, sizes)
        out = out + Counts(ct * v, cf * v, cs * v)
    return out


_WORK_CACHE: dict = {}


def work_terms(roots, folded=frozenset()) -> list:
    """The work to evaluate `roots` (a term or several sharing subterms, each node counted
    once) as `[axes, tensor, fp32, sfu]` terms, one per set of axes: the size-free form that
    lowering/cost/core.py evaluates (`counts`) and kernels/export.py embeds.  `folded`: SFU
    nodes emitted bare (a running max's e^u), without SFU_FP32's fix-up.

    >>> work_terms(parse("(sum@j (exp x[i,j]))"))   # the sum's add; exp: ex2 + 4 FP32
    [[('i', 'j'), 0, 5, 1]]
    >>> work_terms(parse("(sum@j (exp x[i,j]))"), folded={parse("(exp x[i,j])")})
    [[('i', 'j'), 0, 1, 1]]
    """
    roots = (roots,) if isinstance(roots, Term) else tuple(roots)
    key = (roots, frozenset(folded))
    if key not in _WORK_CACHE:
        if len(_WORK_CACHE) > 4096:
            _WORK_CACHE.clear()
        _WORK_CACHE[key] = _work_terms(roots, key[1])
    return _WORK_CACHE[key]


def _work_terms(roots: tuple, folded=frozenset()) -> list:
    seen: set[int] = set()
    nodes = []
    for r in roots:
        for t in r.walk():
            if id(t) not in seen:
                seen.add(id(t))
                nodes.append(t)
    # the product under a contraction is done by the tensor core, not as an elementwise op
    absorbed = {id(t.body) for t in nodes if contraction_factors(t) is not None}
    merged: dict = {}
    for t in nodes:
        if id(t) not in absorbed:
            for axes, ct, cf, cs in node_work(t, folded):
                if ct or cf or cs:
                    key = tuple(sorted(axes))
                    old = merged.get(key, (0, 0, 0))
                    merged[key] = (old[0] + ct, old[1] + cf, old[2] + cs)
    return [[k, *v] for k, v in merged.items()]


def term_counts(roots, sizes: dict) -> Counts:
    """Work to evaluate `roots` (a term or several sharing subterms), counted per node once."""
    return Counts(*counts(work_terms(roots), sizes))
