"""Reductions: linearity, factoring out what does not depend on the reduced axis, sizes as counts.

"Independent of n" is `rules.base.independent`: n is not an axis of the value (so `Σ_n x`, `|n|`
and anything built from them are independent; `x[n]` is not).  Folds over n are over a non-empty
axis (sizes are ≥ 1).

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> sum_factor_out.rewrite(parse("(sum@j (mul (exp s[i,j]) (pow (sum@j (exp s[i,j])) -1.0)))"))
[((mul (pow (sum@j (exp s[i,j])) -1.0) (sum@j (exp s[i,j]))), {'i': 1})]
"""
from __future__ import annotations

from wirefuse.rewrite.ir.term import Reduce, Size
from wirefuse.rules.base import C, independent, is_op, nary, rule
from wirefuse.rules.sign import nonneg

F = "reductions"


def _others(args, k):
    return [a for i, a in enumerate(args) if i != k]


@rule(F, "Σ_n (c · a) = c · Σ_n a", "c independent of n")
def sum_factor_out(t):
    if isinstance(t, Reduce) and t.monoid == "sum" and is_op(t.body, "mul"):
        for k, c in enumerate(t.body.args):
            if independent(c, t.axis):
                yield nary("mul", (c, Reduce("sum", t.axis, nary("mul", _others(t.body.args, k))))), \
                    {"i": k}


@rule(F, "max_n (c · a) = c · max_n a,  min_n (c · a) = c · min_n a",
      "c independent of n and provably ≥ 0")
def maxmin_factor_out(t):
    if isinstance(t, Reduce) and t.monoid in ("max", "min") and is_op(t.body, "mul"):
        for k, c in enumerate(t.body.args):
            if independent(c, t.axis) and nonneg(c):
                inner = Reduce(t.monoid, t.axis, nary("mul", _others(t.body.args, k)))
                yield nary("mul", (c, inner)), {"i": k}


@rule(F, "max_n (a + c) = max_n a + c,  min_n (a + c) = min_n a + c", "c independent of n")
def maxmin_add_const(t):
    if isinstance(t, Reduce) and t.monoid in ("max", "min") and is_op(t.body, "add"):
        for k, c in enumerate(t.body.args):
            if independent(c, t.axis):
                inner = Reduce(t.monoid, t.axis, nary("add", _others(t.body.args, k)))
                yield nary("add", (c, inner)), {"i": k}


@rule(F, "Σ_n (a + b + …) = Σ_n a + Σ_n b + …")
def sum_of_add(t):
    if isinstance(t, Reduce) and t.monoid == "sum" and is_op(t.body, "add"):
        yield nary("add", [Reduce("sum", t.axis, a) for a in t.body.args]), {}


@rule(F, "Σ_n c = |n| · c", "c independent of n")
def sum_of_const(t):
    if isinstance(t, Reduce) and t.monoid == "sum" and independent(t.body, t.axis):
        yield nary("mul", (Size(t.axis), t.body)), {}


@rule(F, "max_n c = c,  min_n c = c", "c independent of n (n is non-empty)")
def maxmin_of_const(t):
    if isinstance(t, Reduce) and t.monoid in ("max", "min") and independent(t.body, t.axis):
        yield t.body, {}


@rule(F, "|n| = Σ_n 1")
def size_as_sum(t):
    if isinstance(t, Size):
        yield Reduce("sum", t.axis, C(1)), {}


__all__ = ["sum_factor_out", "maxmin_factor_out", "maxmin_add_const", "sum_of_add",
           "sum_of_const", "maxmin_of_const", "size_as_sum"]
