"""The running-max (shift) rule: when a stream form may keep m = max_n u and rescale.

Statement.  Let a stream form along n have sum components R_k = Σ_n b_k, and let u be an n-local
term such that, writing E = e^u inside the bodies, each body is homogeneous in E of a degree
α_k > 0 (sympy: b_k(λE) = λ^α_k · b_k(E) for λ > 0), and the tail is invariant under the
common rescaling R_k ↦ λ^α_k · R_k (sympy, λ > 0).  Then with m = max_n u the state
(m, R̃_k = Σ_n b_k(e^(u−m))) computes the same tail, and chunks combine by

    m = max(m1, m2),   R̃_k = R̃_k1 · e^(α_k (m1 − m)) + R̃_k2 · e^(α_k (m2 − m)),

identity (−∞, 0).  Proof: R̃_k = e^(−α_k m) R_k (homogeneity with λ = e^(−m)), and the tail
cancels the common factor.  Softmax (b = e^s·v, e^s; tail o/z) gets it; softpick's
relu(e^s − 1) is not homogeneous in e^s and does not; o/(z + ε) is not invariant and does not.

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> from wirefuse.theorems.stream import decompose
>>> sf = decompose(parse("(div (sum@j (mul (exp s[i,j]) v[j,e])) (sum@j (exp s[i,j])))"), "j")
>>> info = find_shift(sf)
>>> info.u, info.degrees
(s[i,j], {'o': 1, 'z': 1})
>>> find_shift(decompose(parse("(div (sum@j (mul (relu (sub (exp s[i,j]) 1.0)) v[j,e])) "
...                            "(sum@j (abs (sub (exp s[i,j]) 1.0))))"), "j")) is None
True
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import sympy

from wirefuse.rewrite.ir.term import Const, Elem, Input, Layout, State, Term
from wirefuse.theorems.stream import StreamForm
from wirefuse.rules.symbolic import ToSympy, is_zero

LAM = sympy.Symbol("lam", positive=True)
E = sympy.Symbol("E", positive=True)


@dataclass(frozen=True)
class ShiftInfo:
    u: Term                    # the shifted exponent (n-local)
    degrees: dict              # sum component name -> α_k (a sympy Rational/Integer)
    max_name: str              # the running-max state's name

    def combine_exprs(self) -> dict[str, str]:
        """The custom combine, as sympy-parsable text over a-side `x_1` and b-side `x_2`."""
        m = self.max_name
        big = f"Max({m}_1, {m}_2)"
        out = {m: big}
        for k, a in self.degrees.items():
            out[k] = (f"{k}_1*exp(({a})*({m}_1 - {big})) + {k}_2*exp(({a})*({m}_2 - {big}))")
        return out


def _exp_args(body: Term) -> list[Term]:
    seen = []
    for t in body.walk():
        if isinstance(t, Elem) and t.op == "exp" and t.args[0] not in seen:
            seen.append(t.args[0])
    return seen


def _degree(body: Term, u: Term):
    """α with body(λE) = λ^α body(E), E = e^u, proven by sympy; None if not shown or α ≤ 0."""
    conv = ToSympy({Elem("exp", (u,)): E})
    try:
        b = conv(body)
        if b == 0 or not b.has(E):
            return None
        alpha = sympy.simplify(E * sympy.diff(b, E) / b)
        if not alpha.is_number or not alpha.is_rational or not alpha > 0:
            return None
        if not is_zero(b.subs(E, LAM * E) - LAM ** alpha * b):
            return None
        return alpha
    except Exception:  # sympy could not decide: no shift (sound default)
        return None


def tail_invariant(sf: StreamForm, degrees: dict) -> bool:
    """tail(λ^α_k R_k) = tail(R_k) for every λ > 0, by sympy."""
    conv = ToSympy()
    try:
        t = conv(sf.tail)
        if conv.hides(lambda x: isinstance(x, State)):
            return False  # a state inside an opaque node: the rescaling cannot be followed
        sub = {}
        for c in sf.components:
            if c.name in degrees:
                s = conv(sf.state_ref(c))
                sub[s] = LAM ** degrees[c.name] * s
        return is_zero(t.subs(sub, simultaneous=True) - t)
    except Exception:
        return False


def find_shift(sf: StreamForm) -> ShiftInfo | None:
    """The running-max rule's witness for `sf`, or None where its side conditions are not shown."""
    sums = [c for c in sf.components if c.monoid == "sum"]
    if not sums:
        return None
    candidates = []
    for c in sums:
        for u in _exp_args(c.body):
            if u not in candidates:
                candidates.append(u)
    # the running max is a state next to the inputs: its name must clash with neither
    names = {c.name for c in sf.components} | taken_names(sf)
    max_name = "m" if "m" not in names else next(f"m{k}" for k in range(2, 99)
                                                  if f"m{k}" not in names)
    for u in candidates:
        degrees = {}
        for c in sums:
            a = _degree(c.body, u)
            if a is None:
                break
            degrees[c.name] = a
        else:
            if tail_invariant(sf, degrees):
                return ShiftInfo(u, degrees, max_name)
    return None


def with_shift(sf: StreamForm) -> tuple[StreamForm, ShiftInfo | None]:
    """`sf` with `.shift` set to u when the rule applies (else unchanged)."""
    info = find_shift(sf)
    return (replace(sf, shift=info.u) if info else sf), info


def shifted_body(body: Term, info: ShiftInfo, axis: str) -> Term:
    """b(e^(u − m)): the body a shifted state component folds, m the running max.

    Where u = −∞ (a masked score) the factor is 0 even when m = −∞ too (a chunk with every u
    masked): e^(−∞ − m) := 0, which is what homogeneity gives (b(0·E) = 0 for α > 0), so such a
    chunk's state is the identity (−∞, 0).  Kernels must implement the same guard.

    Only the occurrences of e^u that `_degree` saw as E are replaced: those reached through
    scalar functions alone (one inside another reduction, e.g. Σ_i e^u, is part of an opaque
    atom there and must stay as it is)."""
    u = info.u
    m = State(info.max_name, tuple(a for a in u.axes if a != axis))
    old, new = Elem("exp", (u,)), guarded_exp_diff(u, m)

    def go(t: Term) -> Term:
        if t is old:
            return new
        if isinstance(t, (Elem, Layout)):
            return t.with_children(tuple(go(c) for c in t.children))
        return t
    return go(body)


def guarded_exp_diff(a: Term, m: Term) -> Term:
    """e^(a − m), defined as 0 where a = −∞ (so also when m = −∞): the running-max rescaling."""
    return Elem("where", (Elem("eq", (a, Const(-math.inf))), Const(0.0),
                          Elem("exp", (Elem("sub", (a, m)),))))


def taken_names(sf: StreamForm) -> set[str]:
    """Names of the inputs and states a stream form mentions (bodies and tail)."""
    out = set()
    for t in [sf.tail] + [c.body for c in sf.components]:
        out |= {x.name for x in t.walk() if isinstance(x, (Input, State))}
    return out
