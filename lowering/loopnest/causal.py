"""Causal masks built from positions: recognising `#j ≤ #i` in a stream body, for block skipping.

A traced `torch.tril(torch.ones(n, m))` or `j[None, :] <= i[:, None]` is a comparison of the
position leaves #i (rows) and #j (keys).  Over integer positions such a comparison of affine
terms holds on a half-line of δ = j − i, so it is the causal mask j ≤ i exactly when that half-line
is δ ≤ 0 (and its negation, the masked-out part, when it is δ ≥ 1).  The recognition is exact
(fractions, no sampling), and a comparison it cannot read is just not recognised: the kernel then
computes it per block like any field, with no skipping.

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> [half_line(parse(s), "i", "j") for s in ("(le #j #i)", "(le (sub #j #i) 0.0)",
...                                          "(not (le #j #i))", "(gt #j (add #i 1.0))")]
[('le', 0), ('le', 0), ('ge', 1), ('ge', 2)]
>>> causal_value(parse("(ge (sub #i #j) 0.0)"), "i", "j"), causal_value(parse("(lt #j #i)"), "i", "j")
(True, None)
"""
from __future__ import annotations

import math
from fractions import Fraction

from wirefuse.rewrite.ir.term import Const, Elem, Pos, Term

_FLIP = {"le": "ge", "ge": "le", "lt": "gt", "gt": "lt"}


def _affine(t: Term, row: str, stream: str) -> tuple[Fraction, Fraction, Fraction] | None:
    """t = a·#i + b·#j + c as exact (a, b, c), or None if t is not affine in the positions."""
    if isinstance(t, Pos) and t.axis in (row, stream):
        return (Fraction(1), Fraction(0), Fraction(0)) if t.axis == row else \
            (Fraction(0), Fraction(1), Fraction(0))
    if isinstance(t, Const) and t.dtype == "float" and math.isfinite(t.value):
        return Fraction(0), Fraction(0), Fraction(t.value)
    if not isinstance(t, Elem):
        return None
    args = [_affine(a, row, stream) for a in t.args]
    if any(a is None for a in args):
        return None
    if t.op == "add":
        return tuple(sum(x) for x in zip(*args))  # type: ignore[return-value]
    if t.op == "sub":
        (a, b) = args
        return tuple(x - y for x, y in zip(a, b))  # type: ignore[return-value]
    if t.op == "neg":
        return tuple(-x for x in args[0])  # type: ignore[return-value]
    if t.op == "mul" and len(args) == 2:
        for p, q in (args, args[::-1]):
            if p[0] == p[1] == 0:  # a constant factor
                return tuple(p[2] * x for x in q)  # type: ignore[return-value]
    return None


def half_line(t: Term, row: str, stream: str) -> tuple[str, int] | None:
    """('le', c) if the boolean t is exactly δ ≤ c on integer positions (δ = #j − #i), ('ge', c)
    if it is δ ≥ c, None if neither is shown."""
    if not isinstance(t, Elem):
        return None
    if t.op == "not":
        inner = half_line(t.args[0], row, stream)
        if inner is None:
            return None
        return ("ge", inner[1] + 1) if inner[0] == "le" else ("le", inner[1] - 1)
    if t.op == "and":  # with true constants only (tril of a boolean ones)
        rest = [a for a in t.args if not (isinstance(a, Const) and a.value is True)]
        return half_line(rest[0], row, stream) if len(rest) == 1 else None
    if t.op in ("eq", "ne") and len(t.args) == 2:  # float(mask) == 0 / != 0
        for f, z in (t.args, t.args[::-1]):
            if isinstance(f, Elem) and f.op == "float" and isinstance(z, Const) \
                    and z.value == 0.0 and f.args[0].dtype == "bool":
                inner = half_line(f.args[0], row, stream)
                return inner if t.op == "ne" or inner is None else \
                    half_line(Elem("not", (f.args[0],)), row, stream)
        return None
    if t.op not in _FLIP:
        return None
    lhs, rhs = (_affine(a, row, stream) for a in t.args)
    if lhs is None or rhs is None:
        return None
    a, b, c = (x - y for x, y in zip(lhs, rhs))  # lhs − rhs = a·i + b·j + c, compared with 0
    if b == 0 or a != -b:
        return None  # not a function of δ alone
    op = t.op
    if b < 0:  # divide by b < 0: the comparison flips
        op = _FLIP[op]
    bound = -c / b  # δ op bound
    if op == "le":
        return "le", math.floor(bound)
    if op == "lt":
        return "le", math.ceil(bound) - 1
    if op == "ge":
        return "ge", math.ceil(bound)
    return "ge", math.floor(bound) + 1


def causal_value(t: Term, row: str, stream: str) -> bool | None:
    """True if t is exactly the causal mask #j ≤ #i, False if exactly its negation #j > #i."""
    h = half_line(t, row, stream)
    return {("le", 0): True, ("ge", 1): False}.get(h) if h else None


def causal_terms(bodies, row: str, stream: str) -> dict[Term, bool]:
    """Every boolean subterm of the bodies that is the causal mask (True) or its negation
    (False): their values on key blocks wholly at or below the diagonal are known."""
    out: dict[Term, bool] = {}
    for body in bodies:
        for t in body.walk():
            if t.dtype == "bool" and t not in out:
                v = causal_value(t, row, stream)
                if v is not None:
                    out[t] = v
    return out


def on_known(op: str, flag: bool):
    """What an elementwise op whose first operand is the known boolean `flag` becomes: ("const",
    value) or ("arg", i) (its i-th operand), or None where it stays.  The one rule table of
    both foldings of a known mask: fold_known's (the work the cost model counts) and the
    kernel generator's (triton_gen.Emitter: the code a full key block runs).

    >>> on_known("where", False), on_known("not", True), on_known("float", True)
    (('arg', 2), ('const', False), ('const', 1.0))
    """
    if op == "not":
        return "const", not flag
    if op == "float":
        return "const", 1.0 if flag else 0.0
    if op == "where":
        return "arg", 1 if flag else 2
    return None


def fold_known(t: Term, known: dict[Term, bool]) -> Term:
    """t as a key block wholly at or below the diagonal computes it: each mask term of `known`
    is its constant, and the selects, negations and casts of those constants are folded away
    (the generated kernel's full-block loop emits none of them; lowering/cost/model.py counts the
    work of that loop from this term).

    >>> from wirefuse.rewrite.ir.sexpr import parse
    >>> m = parse("(le #j #i)")
    >>> fold_known(parse("(exp (where (not (le #j #i)) -inf s[i,j]))"), {m: True})
    (exp s[i,j])
    """
    memo: dict[Term, Term] = {}

    def go(u: Term):
        if u in known:
            return Const(known[u])
        if u not in memo:
            kids = tuple(go(c) for c in u.children)
            out = u.with_children(kids) if kids != u.children else u
            head = kids[0] if kids else None
            if isinstance(out, Elem) and isinstance(head, Const) and head.dtype == "bool":
                folded = on_known(out.op, head.value)
                if folded is not None:
                    out = Const(folded[1]) if folded[0] == "const" else kids[folded[1]]
            memo[u] = out
        return memo[u]
    return go(t)
