"""Path finding: replayable rule steps from a term to a stream normal form.

`find_path(src, axis, target)` runs a bounded best-first search over single rule applications
(rule, position, bindings) on AC-canonical terms (rules.base.canon), from `src` to a term in
stream normal form along `axis` (theorems.stream.decompose accepts it), preferring one equal
modulo AC to `target` when given (the normal form the e-graph extracted).  The steps it returns
are exactly what theorems.checker replays.

The heuristic counts what keeps a term out of normal form: each distinct reduction over n (or
|n|) inside the body of a reduction over n costs 2 + the depth of its deepest n-dependent
ancestor in that body, at its worst occurrence in that body (so copying it, as x² = x·x
does, is free) (so pulling the n-independent part containing it towards the top of the body lowers the
cost, and factoring it out removes it); |n| in the tail costs 1; opaque folds over n are
hopeless.

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> steps = find_path(parse("(sum@j (div (exp s[i,j]) (sum@j (exp s[i,j]))))"), "j")
>>> [s.rule for s in steps][:2]
['div_to_mul_pow', 'sum_factor_out']
>>> steps[-1].term   # then polished: the same two-component normal form, written smaller
(div (sum@j (exp s[i,j])) (sum@j (exp s[i,j])))
"""
from __future__ import annotations

import heapq
import itertools
import math
import time
from dataclasses import dataclass, field

from wirefuse.rules import ALL_RULES
from wirefuse.rules.base import canon, rebuild
from wirefuse.theorems.stream import NotNormal, decompose
from wirefuse.rewrite.ir.term import Opaque, Reduce, Size, Term

HOPELESS = 10 ** 6


@dataclass(frozen=True)
class Step:
    """One rule application: at `position` of the previous (canonical) term, giving `term`."""
    rule: str
    position: tuple[int, ...]
    bindings: dict = field(hash=False)
    term: Term


def violations(t: Term, axis: str) -> int:
    """The heuristic: 0 exactly when no reduction/size over `axis` sits inside a body over it."""
    worst: dict = {}  # each distinct offending reduction, at its worst place: copying it is free
    sizes = 0
    # (node, the reduction over axis whose body we are in (or None), deepest dependent depth, depth)
    stack = [(t, None, -1, 0)]
    while stack:
        x, inside, last_dep, depth = stack.pop()
        if isinstance(x, Opaque) and x.axis == axis:
            return HOPELESS
        if isinstance(x, Size) and x.axis == axis:  # |n| = Σ_n 1 replaces one copy a step:
            sizes += last_dep + 2 if inside is not None else 1  # so count every copy
        elif isinstance(x, Reduce) and x.axis == axis and inside is not None:
            key = (inside, x)  # per enclosing body: progress in one body shows
            worst[key] = max(worst.get(key, 0), last_dep + 2)
        if isinstance(x, Reduce) and x.axis == axis:
            stack.append((x.body, x, -1, 0))
            continue
        if axis in x.axes:
            last_dep = depth
        for c in x.children:
            stack.append((c, inside, last_dep, depth + 1))
    return sum(worst.values()) + sizes


def _nodes(t: Term) -> set:
    return set(t.walk())


def in_normal_form(t: Term, axis: str) -> bool:
    try:
        decompose(t, axis)
        return True
    except NotNormal:
        return False


def offending(t: Term, axis: str) -> set:
    """The reductions over `axis` nested in a body over it, and every |axis|: what must move."""
    out = set()
    for r in t.walk():
        if isinstance(r, Reduce) and r.axis == axis:
            out |= {x for x in r.body.walk() if isinstance(x, (Reduce, Size)) and x.axis == axis}
        elif isinstance(r, Size) and r.axis == axis:
            out.add(r)
    return out


def _hot(t: Term, targets: set) -> set:
    """The subterms of t that contain one of `targets` (each node once, children first)."""
    hot = set()
    for x in t.walk():
        if x in targets or any(c in hot for c in x.children):
            hot.add(x)
    return hot


def successors(t: Term, rules=None, focus: str | None = None):
    """Every (rule name, position, bindings, canonical result) one step from canonical `t`.

    With `focus` (an axis), only positions whose subterm contains something `offending` along
    it: a rewrite elsewhere cannot move a nested reduction, so the search need not try it."""
    rules = ALL_RULES if rules is None else rules
    hot = None
    if focus is not None:
        bad = offending(t, focus)
        hot = _hot(t, bad) if bad else None
    seen_pos = set()
    for pos, sub in t.positions():
        if pos in seen_pos or (hot is not None and sub not in hot):
            continue
        seen_pos.add(pos)
        for name, r in rules.items():
            for new, b in r.rewrite(sub):
                out = rebuild(t, pos, new)
                if out is not None:
                    yield name, pos, b, out


MAX_STEPS = 600  # terms a path search expands at most: the bound that normally ends it


def find_path(src: Term, axis: str, target: Term | None = None, max_steps: int = MAX_STEPS,
              max_seconds: float = 5.0, require_target: bool = False) -> list[Step] | None:
    """Steps from `src` to a stream normal form along `axis`, or None when the budget runs out.

    With `target`, a normal form equal to canon(target) is preferred; once some other normal
    form is found the search for the target gets a bounded extra effort, after which that normal
    form's path is returned (its end is what a certificate states, so it is as good a proof)
    unless `require_target`.  Unless `require_target`, the path found is then polished (fewer
    state components, then a smaller term).  `max_steps` bounds the expansions, `max_seconds`
    the time."""
    start = canon(src)
    goal = canon(target) if target is not None else None
    goal_nodes = _nodes(goal) if goal is not None else None
    deadline = time.monotonic() + max_seconds

    def priority(t: Term, depth: int) -> float:
        p = 10.0 * violations(t, axis) + 0.3 * depth + 0.02 * t.size()
        if goal_nodes is not None:
            p += 2.0 * len(_nodes(t) ^ goal_nodes)
        return p

    def done(t):
        return in_normal_form(t, axis)

    if done(start) and goal is None:
        return polish([], axis, start=start, deadline=deadline)
    if done(start) and start is goal:
        return []
    if violations(start, axis) >= HOPELESS:
        return None
    tick = itertools.count()
    heap = [(priority(start, 0), next(tick), start, ())]
    seen = {start}
    fallback, fallback_at = None, None
    expansions = 0
    while heap and expansions < max_steps and time.monotonic() < deadline:
        _, _, t, path = heapq.heappop(heap)
        expansions += 1
        for name, pos, b, nt in successors(t, focus=axis):
            if nt in seen:
                continue
            seen.add(nt)
            npath = path + (Step(name, pos, b, nt),)
            if done(nt):
                if goal is None:
                    return polish(list(npath), axis, deadline=deadline)
                if nt is goal:  # exactly the target when asked for, else the tidiest form
                    return list(npath) if require_target else polish(list(npath), axis)
                if fallback is None:
                    fallback, fallback_at = list(npath), expansions
            heapq.heappush(heap, (priority(nt, len(npath)), next(tick), nt, npath))
        if fallback is not None and not require_target and expansions - fallback_at > 150:
            break
    if require_target or fallback is None:
        return None
    return polish(fallback, axis)  # the target was not reached: make the fallback read well


def _weight(t: Term, axis: str) -> tuple[int, int]:
    return (len(decompose(t, axis).components), t.size())


def polish(path: list[Step], axis: str, start: Term | None = None, deadline: float | None = None,
           max_steps: int = 40) -> list[Step]:
    """Simplify a normal form while staying in normal form: fewer state components, then a
    smaller term (e.g. e^(−m)·(e^(−m)·z)^(−1)·o becomes o/z and the max state goes).  Bounded
    by steps, not by the clock, so the same input gives the same proof on a busy machine too;
    `deadline` is only a safety cap.  Returns `path` extended by the steps to the best normal
    form seen."""
    end = path[-1].term if path else start
    best, best_path = _weight(end, axis), path
    heap = [(best, 0, end, tuple(path))]
    seen = {end}
    tick = itertools.count(1)
    stop = max(deadline if deadline is not None else 0.0, time.monotonic() + 20.0)
    stale = 0
    for _ in range(max_steps):
        if not heap or time.monotonic() > stop or stale > 12:
            break
        _, _, t, p = heapq.heappop(heap)
        stale += 1
        for name, pos, b, nt in successors(t):
            if nt in seen or not in_normal_form(nt, axis):
                continue
            seen.add(nt)
            w = _weight(nt, axis)
            np_ = p + (Step(name, pos, b, nt),)
            if w < best:
                best, best_path, stale = w, list(np_), 0
            if w[1] <= end.size() + 6:  # room to rewrite through slightly larger forms
                heapq.heappush(heap, (w, next(tick), nt, np_))
    return best_path
