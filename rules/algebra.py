"""Algebra over the reals: each rule is sound wherever both sides are defined.

Rules act at the root of a (canonical) term.  Powers are where the care is: (x²)^½ = |x|, not x,
so `pow_of_pow` and `pow_of_product` need an integer outer exponent or a base proven ≥ 0
(rules.sign), and `collect_powers` needs integer exponents or a base proven ≥ 0.

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> pow_of_pow.rewrite(parse("(pow (pow x[i] 2.0) 0.5)"))
[]
>>> pow_of_pow.rewrite(parse("(pow (pow (exp x[i]) 2.0) 0.5)"))
[((pow (exp x[i]) 1.0), {})]
"""
from __future__ import annotations

import itertools
import math

import torch

from wirefuse.rewrite.ir.ops import SCALAR_OPS
from wirefuse.rewrite.ir.term import Const, Elem, Term
from wirefuse.rules.base import C, const_value, is_integer, is_op, nary, rule
from wirefuse.rules.sign import nonneg

F = "algebra"


def _pow(x: Term, p: Term) -> Term:
    return Elem("pow", (x, p))


def _others(args, *skip) -> list[Term]:
    return [a for k, a in enumerate(args) if k not in skip]


# --- spelling: everything as +, ·, pow ---------------------------------------------------------
@rule(F, "a − b = a + (−b)")
def sub_to_add_neg(t):
    if is_op(t, "sub"):
        yield Elem("add", (t.args[0], Elem("neg", (t.args[1],)))), {}


@rule(F, "−a = (−1)·a")
def neg_to_mul(t):
    if is_op(t, "neg"):
        yield Elem("mul", (C(-1), t.args[0])), {}


@rule(F, "a / b = a · b^(−1)")
def div_to_mul_pow(t):
    if is_op(t, "div"):
        yield nary("mul", (t.args[0], _pow(t.args[1], C(-1)))), {}


@rule(F, "a · b^(−1) = a / b  (a: the other factors)", via="div_to_mul_pow")
def mul_pow_to_div(t):
    if is_op(t, "mul"):
        for k, a in enumerate(t.args):
            if is_op(a, "pow") and const_value(a.args[1]) == -1.0:
                yield Elem("div", (nary("mul", _others(t.args, k)), a.args[0])), {"i": k}


def _as_pow(op, p, name, eq):
    def fwd(t):
        if is_op(t, op):
            yield _pow(t.args[0], C(p)), {}

    def back(t):
        if is_op(t, "pow") and const_value(t.args[1]) == p:
            yield Elem(op, (t.args[0],)), {}
    fwd.__name__, back.__name__ = f"{name}_to_pow", f"pow_to_{name}"
    return rule(F, eq)(fwd), rule(F, eq.split(" = ")[1] + " = " + eq.split(" = ")[0],
                                  via=fwd.__name__)(back)


sqrt_to_pow, pow_to_sqrt = _as_pow("sqrt", 0.5, "sqrt", "√x = x^(1/2)")
rsqrt_to_pow, pow_to_rsqrt = _as_pow("rsqrt", -0.5, "rsqrt", "rsqrt x = x^(−1/2)")
square_to_pow, pow_to_square = _as_pow("square", 2.0, "square", "x² = x^2")


# --- powers ------------------------------------------------------------------------------------
@rule(F, "(a·b·…)^p = a^p · b^p · …", "p an integer constant, or every factor provably ≥ 0")
def pow_of_product(t):
    if is_op(t, "pow") and is_op(t.args[0], "mul"):
        base, p = t.args
        if is_integer(p) or all(nonneg(a) for a in base.args):
            yield nary("mul", [_pow(a, p) for a in base.args]), {}


@rule(F, "(x^a)^b = x^(a·b)", "b an integer constant, or x provably ≥ 0 ((x²)^½ = |x|)")
def pow_of_pow(t):
    if is_op(t, "pow") and is_op(t.args[0], "pow"):
        (x, a), b = t.args[0].args, t.args[1]
        if is_integer(b) or nonneg(x):
            va, vb = const_value(a), const_value(b)
            e = C(va * vb) if va is not None and vb is not None else nary("mul", (a, b))
            yield _pow(x, e), {}


def _base_exp(t: Term) -> tuple[Term, Term]:
    if is_op(t, "pow"):
        return t.args[0], t.args[1]
    return t, C(1)


@rule(F, "a^p · a^q = a^(p+q)  (a = a^1)", "p, q integer constants, or a provably ≥ 0")
def collect_powers(t):
    if not is_op(t, "mul"):
        return
    parts = [_base_exp(a) for a in t.args]
    for i in range(len(parts)):
        for j in range(i + 1, len(parts)):
            (a, p), (b, q) = parts[i], parts[j]
            if a is not b:
                continue
            if not ((is_integer(p) and is_integer(q)) or nonneg(a)):
                continue
            vp, vq = const_value(p), const_value(q)
            e = C(vp + vq) if vp is not None and vq is not None else nary("add", (p, q))
            yield nary("mul", _others(t.args, i, j) + [_pow(a, e)]), {"i": i, "j": j}


@rule(F, "x^k = x·x·…·x  (k = 2 or 3 factors)")
def pow_to_mul(t):
    if is_op(t, "pow") and const_value(t.args[1]) in (2.0, 3.0):
        yield Elem("mul", (t.args[0],) * int(const_value(t.args[1]))), {}


@rule(F, "x^1 = x")
def pow_one(t):
    if is_op(t, "pow") and const_value(t.args[1]) == 1.0:
        yield t.args[0], {}


@rule(F, "x^0 = 1")
def pow_zero(t):
    if is_op(t, "pow") and const_value(t.args[1]) == 0.0:
        yield C(1), {}


# --- exp ---------------------------------------------------------------------------------------
@rule(F, "e^(a + b + …) = e^a · e^b · …")
def exp_of_sum(t):
    if is_op(t, "exp") and is_op(t.args[0], "add"):
        yield nary("mul", [Elem("exp", (a,)) for a in t.args[0].args]), {}


@rule(F, "e^a · e^b = e^(a + b)", via="exp_of_sum")
def mul_of_exps(t):
    if not is_op(t, "mul"):
        return
    for i in range(len(t.args)):
        for j in range(i + 1, len(t.args)):
            a, b = t.args[i], t.args[j]
            if is_op(a, "exp") and is_op(b, "exp"):
                e = Elem("exp", (nary("add", (a.args[0], b.args[0])),))
                yield nary("mul", _others(t.args, i, j) + [e]), {"i": i, "j": j}


@rule(F, "(e^a)^p = e^(p·a)")
def pow_of_exp(t):
    if is_op(t, "pow") and is_op(t.args[0], "exp"):
        yield Elem("exp", (nary("mul", (t.args[1], t.args[0].args[0])),)), {}


# --- distributivity and identities -------------------------------------------------------------
@rule(F, "a · (b + c + …) = a·b + a·c + …")
def distribute(t):
    if is_op(t, "mul"):
        for k, s in enumerate(t.args):
            if is_op(s, "add"):
                rest = _others(t.args, k)
                yield nary("add", [nary("mul", rest + [x]) for x in s.args]), {"i": k}


@rule(F, "(a + b)·(c + d)·e = a·c·e + a·d·e + b·c·e + b·d·e  (every sum factor at once; ≤ 16 terms)",
      via="distribute")
def expand_product(t):
    if not is_op(t, "mul"):
        return
    sums = [a for a in t.args if is_op(a, "add")]
    if not sums or math.prod(len(a.args) for a in sums) > 16:
        return
    rest = [a for a in t.args if not is_op(a, "add")]
    terms = [nary("mul", rest + list(choice))
             for choice in itertools.product(*[a.args for a in sums])]
    yield nary("add", terms), {}


@rule(F, "1 · a = a,  0 + a = a")
def drop_unit(t):
    if is_op(t, "mul") or is_op(t, "add"):
        unit = 1.0 if t.op == "mul" else 0.0
        for k, a in enumerate(t.args):
            if const_value(a) == unit:
                yield nary(t.op, _others(t.args, k)), {"i": k}
                return


@rule(F, "((a + b) + c) = a + b + c,  ((a·b)·c) = a·b·c")
def flatten(t):
    if (is_op(t, "mul") or is_op(t, "add")) and any(is_op(a, t.op) for a in t.args):
        yield nary(t.op, t.args), {}


def _fold(op: str, values: list[float]) -> float | None:
    with torch.no_grad():
        xs = [torch.tensor(v, dtype=torch.float64) for v in values]
        r = float(SCALAR_OPS[op].torch_fn(*xs))
    return r if math.isfinite(r) else None


@rule(F, "f(c1, …, ck) = its value, for constants ci (float64; finite results only)")
def const_fold(t):
    if not isinstance(t, Elem) or SCALAR_OPS[t.op].result != "float" or t.op == "where":
        return
    vals = [const_value(a) for a in t.args]
    if all(v is not None for v in vals):
        r = _fold(t.op, vals)
        if r is not None:
            yield C(r), {}
    elif t.op in ("add", "mul"):
        ks = [k for k, v in enumerate(vals) if v is not None]
        if len(ks) >= 2:
            r = _fold(t.op, [vals[k] for k in ks])
            if r is not None:
                yield nary(t.op, _others(t.args, *ks) + [Const(r)]), {}
