"""Terms as sympy expressions, for side conditions and monoid laws.

Scalar functions become their sympy meaning (rewrite.ir.ops); every other node (an input, a
reduction, a size, a state) becomes an opaque real symbol, the same symbol for the same term.

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> conv = ToSympy()
>>> conv(parse("(div $o[i] (sqrt $z[i]))"))
o/sqrt(z)
"""
from __future__ import annotations

import math
import re

import sympy

from wirefuse.rewrite.ir.ops import SCALAR_OPS
from wirefuse.rewrite.ir.term import Const, Elem, Layout, State, Term


def number(v: float):
    """An exact sympy number for a float (0.125 → 1/8; ±inf → ±oo)."""
    if v == math.inf:
        return sympy.oo
    if v == -math.inf:
        return -sympy.oo
    if float(v).is_integer():
        return sympy.Integer(int(v))
    return sympy.Rational(v)


class ToSympy:
    """Convert terms; `atoms` pins chosen subterms to chosen symbols (e.g. exp(u) ↦ E)."""

    def __init__(self, atoms: dict[Term, sympy.Symbol] | None = None):
        self.atoms = dict(atoms or {})
        self._n = 0

    def symbol_for(self, t: Term) -> sympy.Symbol:
        if t not in self.atoms:
            if isinstance(t, State):
                self.atoms[t] = sympy.Symbol(t.name, real=True)
            else:
                self._n += 1
                self.atoms[t] = sympy.Symbol(f"x{self._n}", real=True)
        return self.atoms[t]

    def __call__(self, t: Term):
        if t in self.atoms:
            return self.atoms[t]
        if isinstance(t, Const) and t.dtype == "float":
            return number(t.value)
        if isinstance(t, Elem) and SCALAR_OPS[t.op].result == "float" and t.op != "where":
            return SCALAR_OPS[t.op].sympy_fn(*[self(a) for a in t.args])
        if isinstance(t, Layout):  # a layout only orders axes: the identity on values
            return self(t.body)
        return self.symbol_for(t)

    def hides(self, pred) -> bool:
        """Whether some opaque atom (not a pinned one) contains a subterm satisfying `pred`:
        then a substitution on the sympy side would not reach it."""
        return any(not isinstance(t, State) and any(pred(x) for x in t.walk())
                   for t, s in self.atoms.items() if s.name.startswith("x"))


def is_zero(expr) -> bool:
    """Provably zero by sympy (False means 'not shown', never 'shown non-zero')."""
    try:
        if expr == 0:
            return True
        # cheap canonical forms first: most identities here are polynomial in exps
        e = sympy.expand(expr, power_exp=True)
        if e == 0 or sympy.expand(sympy.powsimp(e, combine="exp"), power_exp=True) == 0:
            return True
        return sympy.simplify(expr) == 0
    except Exception:  # sympy can fail on odd inputs; not shown
        return False


_SAFE = re.compile(r"^[\sA-Za-z0-9_+\-*/().,]*$")
_NAMES = {"Max", "Min", "exp", "log", "sqrt", "oo", "Abs"}


def parse_safely(src: str, names: set[str]):
    """Parse a sympy expression from an untrusted certificate: only arithmetic, Max, Min, exp,
    log, sqrt, Abs and the given variable names are allowed (sympy's parser evaluates code)."""
    if not isinstance(src, str) or not _SAFE.match(src) or "__" in src:
        raise ValueError(f"not a plain arithmetic expression: {src!r}")
    for ident in re.findall(r"[A-Za-z_]\w*", src):
        if ident not in _NAMES and ident not in names:
            raise ValueError(f"unknown name {ident!r} in {src!r}")
    local = {n: sympy.Symbol(n, real=True) for n in names}
    return sympy.sympify(src, locals=local)
