"""The algebra rules in egglog, each attached by name to its declaration in rules.algebra.

Sums and products are `MultiSet`s, so associativity and commutativity are free; rules that take
an n-ary node apart peel one element at a time (`pick`), which keeps the number of new e-classes
linear in the number of arguments instead of one per subset.  The peeled forms flatten to the
same terms that the checker's all-at-once rules produce.

Side conditions read the facts of search.egg.facts: `is_int(p)` for integer exponents,
`nonneg(a)` / `all_nonneg(ms)` for bases proven ≥ 0.
"""
from __future__ import annotations

from egglog import i64, ne, rewrite, rule, subsume, union

from wirefuse.search.egraph import all_nonneg, is_int, nonneg
from wirefuse.search.egg.common import MultiSet, Tm, a, b, egg_extra, egg_rule, ms, ms2, one, p, u, w, x

_M1, _P = one(-1.0), "pow"


def _pow(base, e):
    return Tm.op2(_P, base, e)


def _respell(name, op, exponent):
    return egg_rule(name, "normalize",
                    rule(Tm.op1(op, a)).then(union(Tm.op1(op, a)).with_(_pow(a, one(exponent))),
                                             *([is_int(one(exponent))]
                                               if float(exponent).is_integer() else [])))


SUB_TO_ADD_NEG = egg_rule("sub_to_add_neg", "normalize",
                          rewrite(Tm.op2("sub", a, b)).to(Tm.add(MultiSet(a, Tm.op1("neg", b)))))
NEG_TO_MUL = egg_rule("neg_to_mul", "normalize",
                      rule(Tm.op1("neg", a)).then(
                          union(Tm.op1("neg", a)).with_(Tm.mul(MultiSet(_M1, a))), is_int(_M1)))
DIV_TO_MUL_POW = egg_rule("div_to_mul_pow", "normalize",
                          rule(Tm.op2("div", a, b)).then(
                              union(Tm.op2("div", a, b)).with_(Tm.mul(MultiSet(a, _pow(b, _M1)))),
                              is_int(_M1)))
SQRT_TO_POW = _respell("sqrt_to_pow", "sqrt", 0.5)
RSQRT_TO_POW = _respell("rsqrt_to_pow", "rsqrt", -0.5)
SQUARE_TO_POW = _respell("square_to_pow", "square", 2.0)


MAX_ARITY = 8


def _flatten(ctor, unit):
    # x ∈ ms is bound by matching x as a node of the same kind first (contains needs it bound).
    # A class can contain a node over itself (X = mul{X, 1} once 1·X = X is known), and
    # flattening that forever adds elements: the arity bound keeps it finite; subsuming the
    # nested node keeps it from being matched again.
    return rule(ctor(ms), eq_(x, ctor(ms2)), ms.contains(x), ms2.not_contains(x),
                ms.not_contains(unit), ms2.not_contains(unit),
                ms.length() + ms2.length() <= i64(MAX_ARITY + 1)).then(
        union(ctor(ms)).with_(ctor(ms.remove(x) + ms2)), subsume(ctor(ms)))


def eq_(v, e):
    from egglog import eq
    return eq(v).to(e)


FLATTEN = egg_rule("flatten", "normalize",
                   _flatten(Tm.add, one(0.0)), _flatten(Tm.mul, one(1.0)))
# Not a rule of the table: a one-element add/mul *is* its element (decoding maps it so too).
NARY_SINGLE = egg_extra("encoding", "nary_single", "add{a} = a, mul{a} = a", "normalize",
                       rule(Tm.add(ms), ms.length() == i64(1)).then(
                           union(Tm.add(ms)).with_(ms.pick()), subsume(Tm.add(ms))),
                       rule(Tm.mul(ms), ms.length() == i64(1)).then(
                           union(Tm.mul(ms)).with_(ms.pick()), subsume(Tm.mul(ms))))
DROP_UNIT = egg_rule("drop_unit", "normalize",
                     rule(Tm.mul(ms), ms.contains(one(1.0)), ms.length() > i64(1)).then(
                         union(Tm.mul(ms)).with_(Tm.mul(ms.remove(one(1.0)))), subsume(Tm.mul(ms))),
                     rule(Tm.add(ms), ms.contains(one(0.0)), ms.length() > i64(1)).then(
                         union(Tm.add(ms)).with_(Tm.add(ms.remove(one(0.0)))), subsume(Tm.add(ms))))
# The search folds only 1^p = 1; the checker folds any constants (rules.algebra.const_fold).
CONST_FOLD = egg_rule("const_fold", "normalize",
                      rewrite(_pow(one(1.0), Tm.const(u))).to(one(1.0)))
POW_ONE = egg_rule("pow_one", "normalize", rewrite(_pow(a, one(1.0))).to(a))
POW_ZERO = egg_rule("pow_zero", "normalize",
                    rule(_pow(a, one(0.0))).then(union(_pow(a, one(0.0))).with_(one(1.0)),
                                                 is_int(one(1.0))))


def _peel_pow(cond):
    head = _pow(Tm.mul(ms), p)
    return rule(head, ms.length() > i64(1), *cond).then(
        union(head).with_(Tm.mul(MultiSet(_pow(ms.pick(), p),
                                          _pow(Tm.mul(ms.remove(ms.pick())), p)))))


POW_OF_PRODUCT = egg_rule(
    "pow_of_product", "algebra",
    _peel_pow([is_int(p)]), _peel_pow([all_nonneg(ms)]))


def _pow_pow(cond):
    head = _pow(_pow(a, Tm.const(u)), Tm.const(w))
    return rule(head, *cond).then(union(head).with_(_pow(a, Tm.const(u * w))))


POW_OF_POW = egg_rule(
    "pow_of_pow", "algebra",
    _pow_pow([is_int(Tm.const(w))]), _pow_pow([nonneg(a)]),
    rule(_pow(_pow(a, Tm.const(u)), Tm.const(w)), is_int(Tm.const(u)), is_int(Tm.const(w)))
    .then(is_int(Tm.const(u * w))))


def _collect(x1, x2, e1, e2, cond):
    """ms ∋ x1 = base^e1, x2 = base^e2 (x1 ≠ x2) ↦ ms − x1 − x2 + base^(e1+e2)."""
    return rule(Tm.mul(ms), eq_(x, x1), ms.contains(x), eq_(b, x2), ms.contains(b), ne(x).to(b),
                *cond).then(union(Tm.mul(ms)).with_(
                    Tm.mul(ms.remove(x).remove(b).insert(_pow(a, Tm.const(e1 + e2))))))


# In the expand stage only: a^p · a^(−p) = a^0 = 1 puts products into the class of 1, and then
# every product can absorb any number of such pairs (flatten); the arity bound stops it, late.
COLLECT_POWERS = egg_rule(
    "collect_powers", "expand",
    _collect(_pow(a, Tm.const(u)), _pow(a, Tm.const(w)), u, w,
             [is_int(Tm.const(u)), is_int(Tm.const(w))]),
    _collect(_pow(a, Tm.const(u)), _pow(a, Tm.const(w)), u, w, [nonneg(a)]),
    rule(Tm.mul(ms), eq_(b, _pow(a, Tm.const(w))), ms.contains(b), ms.contains(a), ne(a).to(b),
         is_int(Tm.const(w))).then(union(Tm.mul(ms)).with_(
             Tm.mul(ms.remove(a).remove(b).insert(_pow(a, Tm.const(w + 1.0)))))),
    rule(Tm.mul(ms), eq_(b, _pow(a, Tm.const(w))), ms.contains(b), ms.contains(a), ne(a).to(b),
         nonneg(a)).then(union(Tm.mul(ms)).with_(
             Tm.mul(ms.remove(a).remove(b).insert(_pow(a, Tm.const(w + 1.0)))))),
    rule(_pow(a, Tm.const(u)), _pow(a, Tm.const(w)), is_int(Tm.const(u)), is_int(Tm.const(w)))
    .then(is_int(Tm.const(u + w))),
    rule(_pow(a, Tm.const(w)), is_int(Tm.const(w))).then(is_int(Tm.const(w + 1.0))))

EXP_OF_SUM = egg_rule(
    "exp_of_sum", "algebra",
    rule(Tm.op1("exp", Tm.add(ms)), ms.length() > i64(1)).then(
        union(Tm.op1("exp", Tm.add(ms))).with_(Tm.mul(MultiSet(
            Tm.op1("exp", ms.pick()), Tm.op1("exp", Tm.add(ms.remove(ms.pick()))))))))
POW_OF_EXP = egg_rule("pow_of_exp", "algebra",
                      rewrite(_pow(Tm.op1("exp", a), p)).to(
                          Tm.op1("exp", Tm.mul(MultiSet(p, a)))))
DISTRIBUTE = egg_rule(
    "distribute", "expand",
    rule(Tm.mul(ms), eq_(x, Tm.add(ms2)), ms.contains(x), ms2.length() > i64(1)).then(
        union(Tm.mul(ms)).with_(Tm.add(MultiSet(
            Tm.mul(ms.remove(x).insert(ms2.pick())),
            Tm.mul(ms.remove(x).insert(Tm.add(ms2.remove(ms2.pick())))))))))

POW_TO_MUL = egg_rule(
    "pow_to_mul", "expand",
    rewrite(_pow(a, one(2.0))).to(Tm.mul(MultiSet(a, a))),
    rewrite(_pow(a, one(3.0))).to(Tm.mul(MultiSet(a, a, a))))

EGG_ALGEBRA = [SUB_TO_ADD_NEG, NEG_TO_MUL, DIV_TO_MUL_POW, SQRT_TO_POW, RSQRT_TO_POW,
               SQUARE_TO_POW, FLATTEN, CONST_FOLD, NARY_SINGLE, DROP_UNIT, POW_ONE, POW_ZERO, POW_OF_PRODUCT,
               POW_OF_POW, COLLECT_POWERS, EXP_OF_SUM, POW_OF_EXP, DISTRIBUTE,
               POW_TO_MUL]
