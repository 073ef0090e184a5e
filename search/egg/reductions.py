"""The reduction rules in egglog, each attached by name to its declaration in rules.reductions.

"Independent of n" is the `indep(t, n)` fact of search.egg.facts (n is not an axis of t).  These
are the rules that move reductions over n out of the bodies of other reductions over n, which is
all that stream normal form asks for (theorems.stream).
"""
from __future__ import annotations

from egglog import i64, rule, union

from wirefuse.search.egraph import indep, nonneg
from wirefuse.search.egg.common import MultiSet, Tm, a, egg_rule, ms, n, one, x

_SUM = "sum"


def _factor(monoid, *cond):
    head = Tm.red(monoid, n, Tm.mul(ms))
    return rule(head, indep(x, n), ms.contains(x), ms.length() > i64(1), *cond).then(
        union(head).with_(Tm.mul(MultiSet(x, Tm.red(monoid, n, Tm.mul(ms.remove(x)))))))


SUM_FACTOR_OUT = egg_rule("sum_factor_out", "algebra", _factor(_SUM))
MAXMIN_FACTOR_OUT = egg_rule(
    "maxmin_factor_out", "algebra", _factor("max", nonneg(x)), _factor("min", nonneg(x)))


def _shift(monoid):
    head = Tm.red(monoid, n, Tm.add(ms))
    return rule(head, indep(x, n), ms.contains(x), ms.length() > i64(1)).then(
        union(head).with_(Tm.add(MultiSet(x, Tm.red(monoid, n, Tm.add(ms.remove(x)))))))


MAXMIN_ADD_CONST = egg_rule(
    "maxmin_add_const", "algebra", _shift("max"), _shift("min"))
SUM_OF_ADD = egg_rule(
    "sum_of_add", "algebra",
    rule(Tm.red(_SUM, n, Tm.add(ms)), ms.length() > i64(1)).then(
        union(Tm.red(_SUM, n, Tm.add(ms))).with_(Tm.add(MultiSet(
            Tm.red(_SUM, n, ms.pick()), Tm.red(_SUM, n, Tm.add(ms.remove(ms.pick()))))))))
SUM_OF_CONST = egg_rule("sum_of_const", "algebra",
                        rule(Tm.red(_SUM, n, a), indep(a, n)).then(
                            union(Tm.red(_SUM, n, a)).with_(Tm.mul(MultiSet(Tm.size(n), a)))))
MAXMIN_OF_CONST = egg_rule("maxmin_of_const", "algebra",
                           rule(Tm.red("max", n, a), indep(a, n)).then(
                               union(Tm.red("max", n, a)).with_(a)),
                           rule(Tm.red("min", n, a), indep(a, n)).then(
                               union(Tm.red("min", n, a)).with_(a)))
SIZE_AS_SUM = egg_rule("size_as_sum", "algebra",
                       rule(Tm.size(n)).then(union(Tm.size(n)).with_(Tm.red(_SUM, n, one(1.0)))))

EGG_REDUCTIONS = [SUM_FACTOR_OUT, MAXMIN_FACTOR_OUT, MAXMIN_ADD_CONST, SUM_OF_ADD, SUM_OF_CONST,
                  MAXMIN_OF_CONST, SIZE_AS_SUM]
