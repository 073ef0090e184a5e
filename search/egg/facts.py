"""Analyses as positive facts in the e-graph: independence of an axis, signs, integer exponents.

egglog queries have no negation, so every fact is derived upwards from the leaves (seeded by
search.egraph.encode for inputs, sizes and integer constants) and a missing fact just means
"not known": a side condition that needs it does not fire.  That is the safe direction.

    indep(t, n)     n is not an axis of t.  Constants; inputs without n (seeded); any fold over n;
                    a fold over another axis, an elementwise op, a broadcast along another axis,
                    a layout, an add/mul whose arguments are all indep.
    pos(t)          t > 0 wherever defined: positive constants, |n|, exp, sigmoid, folds, sums,
                    products and powers of positive terms.
    nonneg(t)       t ≥ 0: pos, zero, positions #n, x², |x|, relu, √x, x^2, and
                    folds/sums/products of nonneg.
    nonzero(t)      t ≠ 0: pos.
    is_int(t)       t is an integer constant (seeded; kept by the rules that make constants).

Facts about all elements of a multiset (`all_indep`, `all_pos`, `all_nonneg`) walk a chain of
`pick`/`remove` from each multiset an add/mul node holds (`demand_set`): k steps for k elements.
"""
from __future__ import annotations

from egglog import f64, i64, ne, rule

from wirefuse.search.egraph import (all_indep, all_nonneg, all_pos, axis, demand_set, indep,
                                    nonneg, nonzero, pos)
from wirefuse.search.egg.common import Tm, a, b, c, egg_extra, m, ms, n, n2, op, s1, s2, u


def _ms_all(all_rel, fact, *extra):
    """all_rel(ms, *extra) when fact(e, *extra) holds for every element e of a demanded ms."""
    return (
        rule(demand_set(ms), ms.length() == i64(1), fact(ms.pick(), *extra))
        .then(all_rel(ms, *extra)),
        rule(demand_set(ms), ms.length() > i64(1), fact(ms.pick(), *extra),
             all_rel(ms.remove(ms.pick()), *extra)).then(all_rel(ms, *extra)),
    )


INDEP = egg_extra(
    "analysis", "indep", "indep(t, n) ⇔ n ∉ axes(t), derived structurally", "facts",
    rule(Tm.const(u), axis(n)).then(indep(Tm.const(u), n)),
    rule(Tm.bconst(s1), axis(n)).then(indep(Tm.bconst(s1), n)),
    rule(Tm.size(s1), axis(n)).then(indep(Tm.size(s1), n)),
    rule(Tm.red(s1, n, a)).then(indep(Tm.red(s1, n, a), n)),
    rule(Tm.red(s1, n2, a), indep(a, n)).then(indep(Tm.red(s1, n2, a), n)),
    rule(Tm.op1(op, a), indep(a, n)).then(indep(Tm.op1(op, a), n)),
    rule(Tm.op2(op, a, b), indep(a, n), indep(b, n)).then(indep(Tm.op2(op, a, b), n)),
    rule(Tm.op3(op, a, b, c), indep(a, n), indep(b, n), indep(c, n))
    .then(indep(Tm.op3(op, a, b, c), n)),
    rule(Tm.bcast(n2, a), indep(a, n), ne(n2).to(n)).then(indep(Tm.bcast(n2, a), n)),
    rule(Tm.layout(s1, a), indep(a, n)).then(indep(Tm.layout(s1, a), n)),
    rule(Tm.rename(s1, s2, a), indep(a, n), ne(n).to(s1), ne(n).to(s2))
    .then(indep(Tm.rename(s1, s2, a), n)),
    rule(Tm.add(ms)).then(demand_set(ms)),
    rule(Tm.mul(ms)).then(demand_set(ms)),
    rule(demand_set(ms), ms.length() > i64(1)).then(demand_set(ms.remove(ms.pick()))),
    *_ms_all(all_indep, indep, n),
    rule(Tm.add(ms), all_indep(ms, n)).then(indep(Tm.add(ms), n)),
    rule(Tm.mul(ms), all_indep(ms, n)).then(indep(Tm.mul(ms), n)),
)

_POS_OPS = ("exp", "sigmoid")
_NONNEG_OPS = ("abs", "relu", "sqrt", "square", "float")

SIGN = egg_extra(
    "analysis", "sign", "pos(t) ⇒ t > 0, nonneg(t) ⇒ t ≥ 0, nonzero(t) ⇒ t ≠ 0 (rules.sign, positively)",
    "facts",
    rule(Tm.const(u), u > f64(0.0)).then(pos(Tm.const(u))),
    rule(Tm.size(s1)).then(pos(Tm.size(s1))),
    rule(Tm.const(f64(0.0))).then(nonneg(Tm.const(f64(0.0)))),
    rule(Tm.position(s1)).then(nonneg(Tm.position(s1))),
    *[rule(Tm.op1(o, a)).then(pos(Tm.op1(o, a))) for o in _POS_OPS],
    *[rule(Tm.op1(o, a)).then(nonneg(Tm.op1(o, a))) for o in _NONNEG_OPS],
    rule(Tm.op1("sqrt", a), pos(a)).then(pos(Tm.op1("sqrt", a))),
    rule(Tm.op1("rsqrt", a)).then(pos(Tm.op1("rsqrt", a))),
    rule(Tm.op2("pow", a, b), pos(a)).then(pos(Tm.op2("pow", a, b))),
    rule(Tm.op2("pow", a, b), nonneg(a)).then(nonneg(Tm.op2("pow", a, b))),
    rule(Tm.op2("pow", a, Tm.const(2.0))).then(nonneg(Tm.op2("pow", a, Tm.const(2.0)))),
    rule(Tm.op2("div", a, b), pos(a), pos(b)).then(pos(Tm.op2("div", a, b))),
    rule(Tm.op2("div", a, b), nonneg(a), nonneg(b)).then(nonneg(Tm.op2("div", a, b))),
    rule(Tm.red(m, n, a), pos(a)).then(pos(Tm.red(m, n, a))),
    rule(Tm.red(m, n, a), nonneg(a)).then(nonneg(Tm.red(m, n, a))),
    *_ms_all(all_pos, pos),
    *_ms_all(all_nonneg, nonneg),
    rule(Tm.mul(ms), all_pos(ms)).then(pos(Tm.mul(ms))),
    rule(Tm.add(ms), all_pos(ms)).then(pos(Tm.add(ms))),
    rule(Tm.mul(ms), all_nonneg(ms)).then(nonneg(Tm.mul(ms))),
    rule(Tm.add(ms), all_nonneg(ms)).then(nonneg(Tm.add(ms))),
    rule(pos(a)).then(nonneg(a), nonzero(a)),
)

EGG_FACTS = [INDEP, SIGN]
