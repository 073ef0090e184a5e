"""Terms as s-expressions: the parser that reads back the printed form.

The printer, `to_sexpr` (which is also `repr` of a term), lives beside the node classes in
rewrite/ir/term.py so that the two modules import one way; it is re-exported here, beside its
inverse.

>>> t = parse("(sum@j (mul (exp s[i,j]) v[j,e]))")
>>> t.axes
('i', 'e')
>>> parse(to_sexpr(t)) is t
True

Syntax
------
    q[b,h,i,d]          float input          mask[i,j]:bool   boolean input
    $o[i,e]             stream state         2.5  -inf  true  constants
    |j|                 size of axis j
    #j                  position along axis j (0, 1, ..., |j| − 1)
    (exp x)  (mul a b c)                     scalar functions (rewrite.ir.ops.SCALAR_OPS)
    (sum@j x) (max@j x)                      monoid reductions
    (bcast@j x)  (rename@i:i2 x)  (layout@i,e x)
    (median@j x)  (quantile@j:0.5 x)         opaque reductions (params after ':')
"""
from __future__ import annotations

import re

from wirefuse.rewrite.ir.ops import MONOIDS, OPAQUE_OPS
from wirefuse.rewrite.ir.term import (Broadcast, Const, Elem, Input, Layout, Opaque, Pos, Reduce,
                                      Rename, Size, State, Term, TermError, head, to_sexpr)

__all__ = ["parse", "to_sexpr", "head"]


_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")
_INPUT = re.compile(r"^(\$?)([A-Za-z_]\w*)\[([\w,]*)\](:bool)?$")


def _tokens(src: str) -> list[str]:
    pos, toks = 0, []
    src = src.strip()
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m:
            raise TermError(f"cannot read term at {src[pos:pos + 20]!r}")
        toks.append(m.group(1))
        pos = m.end()
    return toks


def parse(src: str) -> Term:
    toks = _tokens(src)
    if not toks:
        raise TermError("empty term")
    term, i = _parse(toks, 0)
    if i != len(toks):
        raise TermError(f"unexpected {toks[i]!r} after a complete term")
    return term


def _atom(tok: str) -> Term:
    m = _INPUT.match(tok)
    if m:
        state, name, axes, isbool = m.groups()
        axes = tuple(a for a in axes.split(",") if a)
        if state:
            return State(name, axes)
        return Input(name, axes, "bool" if isbool else "float")
    if tok.startswith("|") and tok.endswith("|") and len(tok) > 2:
        return Size(tok[1:-1])
    if tok.startswith("#") and len(tok) > 1:
        return Pos(tok[1:])
    if tok in ("true", "false"):
        return Const(tok == "true")
    try:
        return Const(float(tok))
    except ValueError:
        raise TermError(f"cannot read atom {tok!r}") from None


def _parse(toks: list[str], i: int) -> tuple[Term, int]:
    tok = toks[i]
    if tok == ")":
        raise TermError("unexpected ')'")
    if tok != "(":
        return _atom(tok), i + 1
    if i + 1 >= len(toks):
        raise TermError("unclosed '('")
    head = toks[i + 1]
    i += 2
    args: list[Term] = []
    while True:
        if i >= len(toks):
            raise TermError("unclosed '('")
        if toks[i] == ")":
            i += 1
            break
        a, i = _parse(toks, i)
        args.append(a)
    return _build(head, args), i


def _build(head: str, args: list[Term]) -> Term:
    if "@" not in head:
        return Elem(head, tuple(args))
    kind, rest = head.split("@", 1)
    if kind in MONOIDS:
        (body,) = args
        return Reduce(kind, rest, body)
    if kind == "bcast":
        (body,) = args
        return Broadcast(rest, body)
    if kind == "rename":
        old, new = rest.split(":")
        (body,) = args
        return Rename(old, new, body)
    if kind == "layout":
        (body,) = args
        return Layout(tuple(rest.split(",")), body)
    if kind in OPAQUE_OPS:
        axis, _, ps = rest.partition(":")
        params = tuple(float(p) for p in ps.split(",")) if ps else ()
        return Opaque(kind, axis, tuple(args), params)
    raise TermError(f"unknown head {head!r}")
