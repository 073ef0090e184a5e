"""What the egglog rule families share: the `EggRule` record and the pattern variables.

An `EggRule` of kind "rule" is the egglog encoding of one rule of the checker's table
(rules.ALL_RULES): `egg_rule` takes its name and looks the equation and side condition up in
that declaration, so each is written once and a proof found in the e-graph is replayable rule by
rule (search.pathfind).  Two other kinds are marked explicitly, and are no rule of the table:
"analysis" (search.egg.facts: they derive facts, they do not rewrite) and "encoding" (identities
of the MultiSet encoding itself, such as add{a} = a).  tests/test_rules_once.py checks that the
rule names here plus the table's `via` rules are exactly the table.

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


KINDS = ("rule", "analysis", "encoding")


@dataclass(frozen=True)
class EggRule:
    name: str
    equation: str
    side_condition: str
    phase: str
    rules: tuple  # egglog rewrites/rules
    kind: str = "rule"


def egg_rule(name: str, phase: str, *rules) -> EggRule:
    """The egglog encoding of the table's rule `name` (its equation comes from the table)."""
    from wirefuse.rules import ALL_RULES
    assert phase in PHASES, phase
    if name not in ALL_RULES:
        raise KeyError(f"egglog rule {name!r} is not declared in rules/ (rules.ALL_RULES)")
    decl = ALL_RULES[name]
    if decl.via is not None:
        raise ValueError(f"rule {name!r} is declared as reached via {decl.via!r}, not encoded")
    return EggRule(name, decl.equation, decl.side_condition, phase, tuple(rules))


def egg_extra(kind: str, name: str, statement: str, phase: str, *rules) -> EggRule:
    """An analysis or an encoding identity: search-only, named and stated here."""
    assert phase in PHASES and kind in KINDS[1:], (phase, kind)
    return EggRule(name, statement, "none", phase, tuple(rules), kind)


a, b, c, x, p, q = vars_("a b c x p q", Tm)
ms, ms2 = var("ms", MultiSet[Tm]), var("ms2", MultiSet[Tm])
n, n2, m, op, s1, s2 = vars_("n n2 m op s1 s2", String)
u, w = vars_("u w", f64)


def one(v: float) -> Tm:
    return Tm.const(v)


__all__ = ["EggRule", "egg_rule", "egg_extra", "KINDS", "PHASES", "Tm", "MultiSet", "a", "b", "c", "x", "p", "q",
           "ms", "ms2", "n", "n2", "m", "op", "s1", "s2", "u", "w", "one"]
