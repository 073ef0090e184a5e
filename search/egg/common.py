"""What the egglog rule families share: the `EggRule` record and the pattern variables.

An `EggRule` is the egglog version of one rule of the checker's table (rules.ALL_RULES) and
carries the same name and equation, so a proof found in the e-graph is replayable rule by rule
(search.pathfind).  Analyses (search.egg.facts) have names of their own: they derive facts, they
do not rewrite.

`phase` says which ruleset it joins (search.saturate runs them in this order each iteration):
    facts      derive indep / sign / integer facts (saturated every iteration: cheap, no new terms)
    normalize  respell (−, /, √, square) and flatten: size-preserving, always saturates
    algebra    the laws that make new terms (factor out, linearity, exp of a sum, powers)
    expand     distributivity: only in a second round, when the first found no normal form
"""
from __future__ import annotations

from dataclasses import dataclass

from egglog import MultiSet, String, f64, var, vars_

from wirefuse.search.egraph import Tm

PHASES = ("facts", "normalize", "algebra", "expand")


@dataclass(frozen=True)
class EggRule:
    name: str
    equation: str
    side_condition: str
    phase: str
    rules: tuple  # egglog rewrites/rules


def egg_rule(name: str, equation: str, phase: str, *rules, side_condition: str = "none"):
    assert phase in PHASES, phase
    return EggRule(name, equation, side_condition, phase, tuple(rules))


a, b, c, x, p, q = vars_("a b c x p q", Tm)
ms, ms2 = var("ms", MultiSet[Tm]), var("ms2", MultiSet[Tm])
n, n2, m, op, s1, s2 = vars_("n n2 m op s1 s2", String)
u, w = vars_("u w", f64)


def one(v: float) -> Tm:
    return Tm.const(v)


__all__ = ["EggRule", "egg_rule", "PHASES", "Tm", "MultiSet", "a", "b", "c", "x", "p", "q",
           "ms", "ms2", "n", "n2", "m", "op", "s1", "s2", "u", "w", "one"]
