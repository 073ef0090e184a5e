"""Each rule is declared once (rules/), and the search (search/egg/) agrees with the checker.

(1) The rule names the search encodes, plus the table's `via` rules (reached through another
    rule's encoding), are exactly the checker's table; analyses and encoding identities are
    marked as such and are not rules of the table.
(2) For each rule, on hand-made instances, every rewrite the checker's rule makes lies in the
    e-class of its left-hand side after running egglog with that rule's encoding alone (plus the
    fact analyses its side conditions read and the MultiSet encoding's own identities,
    `flatten` and `nary_single`, without which an n-ary result cannot be compared).
Numerical soundness of each equation is tests/test_rules_equations.py.
"""
from __future__ import annotations

import pytest
from egglog import EGraph, eq, run, ruleset

from wirefuse.rewrite.ir.sexpr import parse
from wirefuse.rules import ALL_RULES
from wirefuse.rules.base import canon
from wirefuse.search.egraph import encode
from wirefuse.search.saturate import EGG_RULES

ENCODED = {r.name: r for r in EGG_RULES if r.kind == "rule"}
VIA = {name: r.via for name, r in ALL_RULES.items() if r.via is not None}


def test_search_rules_are_the_checker_rules():
    assert set(ENCODED) | set(VIA) == set(ALL_RULES)
    assert not set(ENCODED) & set(VIA)
    assert set(VIA.values()) <= set(ENCODED)  # a via rule names a rule that is encoded
    extra = {r.name: r.kind for r in EGG_RULES if r.kind != "rule"}
    assert extra == {"indep": "analysis", "sign": "analysis", "nary_single": "encoding"}
    assert len({r.name for r in EGG_RULES}) == len(EGG_RULES)


def test_equations_are_the_declarations():
    for name, r in ENCODED.items():
        assert (r.equation, r.side_condition) == (ALL_RULES[name].equation,
                                                   ALL_RULES[name].side_condition)


# rule -> left-hand sides on which the checker's rule fires (inputs over axes i and n)
INSTANCES = {
    "sub_to_add_neg": ["(sub x[i,n] y[n])"],
    "neg_to_mul": ["(neg y[n])"],
    "div_to_mul_pow": ["(div x[i,n] y[n])", "(div (mul x[i,n] z[i]) y[n])"],
    "mul_pow_to_div": ["(mul x[i,n] (pow y[n] -1.0))", "(mul z[i] x[i,n] (pow y[n] -1.0))"],
    "sqrt_to_pow": ["(sqrt y[n])"], "pow_to_sqrt": ["(pow y[n] 0.5)"],
    "rsqrt_to_pow": ["(rsqrt y[n])"], "pow_to_rsqrt": ["(pow y[n] -0.5)"],
    "square_to_pow": ["(square y[n])"], "pow_to_square": ["(pow y[n] 2.0)"],
    "pow_of_product": ["(pow (mul x[i,n] y[n]) 2.0)", "(pow (mul (exp y[n]) (abs z[i])) 0.5)"],
    "pow_of_pow": ["(pow (pow y[n] 3.0) 2.0)", "(pow (pow (exp y[n]) 0.5) 0.5)"],
    "collect_powers": ["(mul (pow y[n] 2.0) (pow y[n] 3.0) z[i])", "(mul y[n] (pow y[n] 2.0))"],
    "pow_to_mul": ["(pow y[n] 2.0)", "(pow y[n] 3.0)"],
    "pow_one": ["(pow y[n] 1.0)"], "pow_zero": ["(pow y[n] 0.0)"],
    "exp_of_sum": ["(exp (add x[i,n] y[n]))", "(exp (add x[i,n] y[n] z[i]))"],
    "mul_of_exps": ["(mul (exp x[i,n]) (exp y[n]))", "(mul (exp x[i,n]) (exp y[n]) z[i])"],
    "pow_of_exp": ["(pow (exp y[n]) 2.0)"],
    "distribute": ["(mul z[i] (add x[i,n] y[n]))", "(mul z[i] y[n] (add x[i,n] 2.0 y[n]))"],
    "expand_product": ["(mul (add x[i,n] y[n]) (add z[i] 2.0))"],
    "drop_unit": ["(mul 1.0 y[n])", "(add 0.0 y[n] z[i])"],
    "flatten": ["(mul (mul x[i,n] y[n]) z[i])", "(add x[i,n] (add y[n] z[i]))"],
    "const_fold": ["(pow 1.0 3.0)"],  # the search folds only 1^p (search/egg/algebra.py)
    "sum_factor_out": ["(sum@n (mul z[i] x[i,n]))", "(sum@n (mul z[i] (exp z[i]) x[i,n]))"],
    "maxmin_factor_out": ["(max@n (mul (exp z[i]) x[i,n]))", "(min@n (mul |n| y[n]))"],
    "maxmin_add_const": ["(max@n (add z[i] x[i,n]))", "(min@n (add z[i] y[n] x[i,n]))"],
    "sum_of_add": ["(sum@n (add x[i,n] y[n]))", "(sum@n (add x[i,n] y[n] z[i]))"],
    "sum_of_const": ["(sum@n z[i])"],
    "maxmin_of_const": ["(max@n z[i])", "(min@n z[i])"],
    "size_as_sum": ["|n|"],
}


def test_every_rule_has_instances():
    assert set(INSTANCES) == set(ALL_RULES)


def _ruleset(name: str):
    encoded = ENCODED[VIA.get(name, name)]
    rs = ruleset()
    for r in EGG_RULES:
        if r.kind != "rule" or r.name in (encoded.name, "flatten"):
            for x in r.rules:
                rs.append(x)
    return rs


@pytest.mark.parametrize("name", sorted(INSTANCES))
def test_search_agrees_with_checker(name):
    rs = _ruleset(name)
    for src in INSTANCES[name]:
        lhs = parse(src) if name == "flatten" else canon(parse(src))  # flatten: non-canonical
        results = ALL_RULES[name].rewrite(lhs)
        assert results, f"{name} does not fire on {src}"
        for rhs, _ in results:
            eg = EGraph()
            axes = ["i", "n"]
            e_lhs, e_rhs = encode(lhs, eg, axes), encode(rhs, eg, axes)
            eg.run(run(rs) * 12)
            assert eg.check_bool(eq(e_lhs).to(e_rhs)), (name, src, rhs)


def test_agreement_is_not_vacuous():
    """A rule's encoding alone does not equate what only another rule proves."""
    eg = EGraph()
    lhs, rhs = canon(parse("(sum@n (mul z[i] x[i,n]))")), parse("(mul z[i] (sum@n x[i,n]))")
    e_lhs, e_rhs = encode(lhs, eg, ["i", "n"]), encode(rhs, eg, ["i", "n"])
    eg.run(run(_ruleset("sum_of_add")) * 12)
    assert not eg.check_bool(eq(e_lhs).to(e_rhs))
