"""Sign analysis for side conditions: a conservative proof that a term is > 0 or ≥ 0.

`sign(t)` is "pos" (provably > 0 wherever defined), "nonneg" (provably ≥ 0) or None (unknown).
It is syntactic and only ever says what follows from the rules below, so "unknown" is always a
safe answer:

    exp, sigmoid, |n| (sizes ≥ 1) > 0;   x², |x|, relu, √x, float(b), positions #n ≥ 0;
    sums, products, quotients, max/min and Σ/Π/max/min folds of ≥ 0 terms are ≥ 0 (> 0 if all > 0);
    x^p ≥ 0 for even integer p or x ≥ 0 (> 0 if x > 0).

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> sign(parse("(add (exp x[i]) (square y[i]))")), sign(parse("(sub x[i] 1.0)"))
('pos', None)
"""
from __future__ import annotations

from wirefuse.rewrite.ir.term import Const, Elem, Pos, Reduce, Size, Term


def _join_all(signs) -> str | None:
    signs = list(signs)
    if all(s == "pos" for s in signs):
        return "pos"
    if all(s in ("pos", "nonneg") for s in signs):
        return "nonneg"
    return None


def sign(t: Term) -> str | None:
    if isinstance(t, Const):
        if t.dtype != "float":
            return None
        return "pos" if t.value > 0 else "nonneg" if t.value == 0 else None
    if isinstance(t, Size):
        return "pos"
    if isinstance(t, Pos):
        return "nonneg"  # 0, 1, ..., |n| − 1
    if isinstance(t, Reduce):
        s = sign(t.body)
        # sizes are ≥ 1, so a fold of positive terms is positive (Σ, Π, max, min alike)
        return s
    if not isinstance(t, Elem):
        return None
    op, args = t.op, t.args
    if op in ("exp", "sigmoid"):
        return "pos"
    if op in ("square", "abs", "relu", "float"):
        return "nonneg"
    if op == "sqrt":
        return "pos" if sign(args[0]) == "pos" else "nonneg"  # √x ≥ 0 wherever defined
    if op == "rsqrt":
        return "pos"  # 1/√x > 0 wherever defined
    if op == "max":  # max(a, b) ≥ a
        signs = [sign(a) for a in args]
        return "pos" if "pos" in signs else "nonneg" if "nonneg" in signs else None
    if op == "add":  # ≥ 0 terms, one of them > 0, sum to > 0
        signs = [sign(a) for a in args]
        s = _join_all(signs)
        return "pos" if s == "nonneg" and "pos" in signs else s
    if op in ("mul", "min"):
        return _join_all(sign(a) for a in args)
    if op == "div":
        return _join_all(sign(a) for a in args)
    if op == "pow":
        base, p = sign(args[0]), args[1]
        if base is not None:
            return base
        if isinstance(p, Const) and p.dtype == "float" and float(p.value).is_integer() \
                and int(p.value) % 2 == 0:
            return "nonneg"
        return None
    return None


def nonneg(t: Term) -> bool:
    return sign(t) in ("pos", "nonneg")


def positive(t: Term) -> bool:
    return sign(t) == "pos"
