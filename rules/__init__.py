"""Rewrite rules, one module per family; each rule is named and states its equation.

`ALL_RULES` is the checker's rule table: plain Python rules (rules.algebra, rules.reductions),
never egglog.  theorems.shift (the running-max rule, with its side conditions) acts on stream forms,
not terms; the fusion theorems 1–5 and the normalised-contraction lemma, which these rewrites
mechanise, are stated in theorems.fusion.

>>> "sum_factor_out" in ALL_RULES and "div_to_mul_pow" in ALL_RULES
True
"""
from wirefuse.rules import algebra, reductions  # noqa: F401  (registering the rules)
from wirefuse.rules.base import REGISTRY, Rule, apply_step, canon

ALL_RULES: dict[str, Rule] = dict(REGISTRY)

__all__ = ["ALL_RULES", "Rule", "apply_step", "canon"]
