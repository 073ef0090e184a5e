"""Bounded equality saturation of a term with the egglog rules (rules/egg_*.py).

    saturate(term, limits) -> Saturation(status, seconds, enodes, iterations, ...)

Each iteration runs, in order:

    facts      to saturation   indep / sign / integer facts (they make no new terms)
    normalize  to saturation   −, /, √, square respelt as +, ·, pow; flatten; units; x^1, x^0
    algebra    one step        factor out, linearity, exp of a sum, powers (back-off scheduler:
                               a rule that matches too often is banned for a few iterations)

`status` is "saturated" when an iteration changes nothing, else the limit that stopped it:
"iteration limit", "node limit" or "time limit".  Limits are checked between iterations (egglog
cannot be interrupted inside one), so the back-off match limit is what keeps one iteration short.
A limit hit is reported as such; the prover never turns it into a "not streamable".

Saturation runs in stages over the same e-graph: first without `expand` (distributivity, which
multiplies terms), then, only if asked, with it.

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> s = saturate(parse("(sum@j (div (exp s[i,j]) (sum@j (exp s[i,j]))))"))
>>> s.status, s.graph().n_nodes > 5
('saturated', True)
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from egglog import EGraph, back_off, run, ruleset

from wirefuse.search.egg.algebra import EGG_ALGEBRA
from wirefuse.search.egg.common import PHASES
from wirefuse.search.egg.facts import EGG_FACTS
from wirefuse.search.egg.reductions import EGG_REDUCTIONS
from wirefuse.search.egraph import SerializedGraph, encode
from wirefuse.rewrite.ir.term import Term

EGG_RULES = EGG_FACTS + EGG_ALGEBRA + EGG_REDUCTIONS


@dataclass(frozen=True)
class Limits:
    """Bounds on one saturation.  The defaults keep every example well under 5 s on 2 cores."""
    max_iters: int = 40
    max_nodes: int = 20_000
    max_seconds: float = 3.0
    match_limit: int = 2_000   # back-off: matches per rule per iteration before it is banned
    ban_length: int = 3


@dataclass
class Saturation:
    status: str  # "saturated", "iteration limit", "node limit", "time limit", "stopped: goal found"
    seconds: float
    enodes: int
    iterations: int
    egraph: EGraph = field(repr=False)
    stage: str = "base"
    _graph: SerializedGraph | None = field(default=None, repr=False)

    @property
    def limit_hit(self) -> bool:
        return self.status not in ("saturated", "stopped: goal found")

    def graph(self) -> SerializedGraph:
        """The serialized e-graph (computed once per stage)."""
        if self._graph is None:
            self._graph = SerializedGraph.of(self.egraph)
        return self._graph

    def stats(self) -> dict:
        return {"seconds": round(self.seconds, 4), "enodes": self.enodes,
                "iterations": self.iterations, "limit": self.status}


def _ruleset(phases):
    rs = ruleset()
    for r in EGG_RULES:
        if r.phase in phases:
            for x in r.rules:
                rs.append(x)
    return rs


_RULESETS: dict = {}


def rulesets():
    """The rulesets of each phase, built once (egglog declarations are reused across e-graphs)."""
    if not _RULESETS:
        for ph in PHASES:
            _RULESETS[ph] = _ruleset({ph})
    return _RULESETS


def term_nodes(egraph: EGraph) -> int:
    """E-nodes of the term sort (facts and multisets not counted)."""
    return sum(size for fn, size in egraph.all_function_sizes() if str(fn).startswith("Tm."))


class Saturator:
    """One e-graph for one term, saturated stage by stage within shared limits."""

    def __init__(self, term: Term, limits: Limits = Limits()):
        self.limits = limits
        self.egraph = EGraph()
        self.root = encode(term, self.egraph)
        self.iterations = 0
        self.seconds = 0.0

    def run(self, stage: str = "base", until=None) -> Saturation:
        """Iterate until saturated, a limit, or `until(egraph)` returns True (checked after each
        iteration: the prover stops once a stream normal form can be extracted)."""
        rs = rulesets()
        lim = self.limits
        phases = ["algebra"] + (["expand"] if stage == "expand" else [])
        main = rs[phases[0]] if len(phases) == 1 else _ruleset(set(phases))
        sched_cheap = run(rs["facts"]).saturate() + run(rs["normalize"]).saturate()
        start = time.monotonic()
        status = "saturated"
        while True:
            if self.iterations >= lim.max_iters:
                status = "iteration limit"
                break
            if term_nodes(self.egraph) > lim.max_nodes:
                status = "node limit"
                break
            if self.seconds + (time.monotonic() - start) > lim.max_seconds:
                status = "time limit"
                break
            cheap = self.egraph.run(sched_cheap.saturate())
            step = self.egraph.run(run(main, scheduler=back_off(
                match_limit=lim.match_limit, ban_length=lim.ban_length)))
            self.iterations += 1
            if until is not None and until(self.egraph):
                status = "stopped: goal found"
                break
            if not step.updated and not cheap.updated:
                # A banned rule may still have work: egglog reports no update only when
                # nothing fired, and back-off unbans after `ban_length` idle iterations, so
                # confirm once more without the scheduler before calling it saturated.
                if not self.egraph.run(run(main)).updated:
                    self.egraph.run(sched_cheap.saturate())
                    break
        self.seconds += time.monotonic() - start
        return Saturation(status, self.seconds, term_nodes(self.egraph), self.iterations,
                          self.egraph, stage)


def saturate(term: Term, limits: Limits = Limits(), stage: str = "base") -> Saturation:
    """Saturate `term` (see the module docstring); stage "expand" adds distributivity."""
    sat = Saturator(term, limits)
    result = sat.run("base")
    if stage == "expand" and not result.limit_hit:
        result = sat.run("expand")
    return result
