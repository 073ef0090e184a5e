"""Stream normal form: the statement "f is streamable along n" made into a data structure.

A term is in stream normal form along n when it is a tail over state components

    f = T[R1, ..., Rk],   Ri = Reduce(⊕i, n, hi)

where each body hi is *n-local* (no reduction over n inside it: it acts on one index of n at a
time) and the tail T touches the streamed inputs only through the Ri.  A position #n in a body is
n-local (an input over n whose values are the indices): a chunk of keys lo..hi carries its global
positions lo..hi−1, as it carries its slice of every input; |n| is not (a chunk does not know it).  Such an f is streamable:
state (R1..Rk), identity (e1..ek), combine ⊕1 × ... × ⊕k, and tail T (docs/theory.md §4, the
list-homomorphism view of §2).  The prover's job is to rewrite f into this form; `decompose` only
recognises it, so it is small enough to trust.

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> f = parse("(div (sum@j (mul s[i,j] v[j,e])) (sqrt (sum@j (square s[i,j]))))")
>>> sf = decompose(f, "j")
>>> [(c.name, c.monoid, c.body) for c in sf.components]
[('o', 'sum', (mul s[i,j] v[j,e])), ('z', 'sum', (square s[i,j]))]
>>> sf.tail
(div $o[i,e] (sqrt $z[i]))
>>> sf.as_term() is f
True

A reduction over n nested inside the body of another is not normal form, and `decompose` says why:

>>> decompose(parse("(sum@j (exp (div s[i,j] (sum@j s[i,j]))))"), "j")
Traceback (most recent call last):
...
wirefuse.theorems.stream.NotNormal: the body of sum@j contains another reduction over j: ...
"""
from __future__ import annotations

from dataclasses import dataclass, field

from wirefuse.rewrite.ir.ops import MONOIDS, OPAQUE_OPS
from wirefuse.rewrite.ir.term import Opaque, Reduce, Rename, Size, State, Term


class NotNormal(ValueError):
    """The term is not in stream normal form along the axis; the message says where."""


@dataclass(frozen=True)
class Component:
    """One state component: the fold of `body` over the stream axis with `monoid`."""
    name: str
    monoid: str
    body: Term

    @property
    def identity(self) -> float:
        return MONOIDS[self.monoid].identity


@dataclass(frozen=True)
class StreamForm:
    """f = tail[State(c.name) := Reduce(c.monoid, axis, c.body) for c in components].

    `shift`, when set, is a term u (n-local) such that the prover has shown every sum
    component's body to be exp(u)·w and the tail to be invariant under a common rescaling of
    the sum components (the running-max rule); lowering may then keep m = max_n u and rescale.
    """
    axis: str
    components: tuple[Component, ...]
    tail: Term
    shift: Term | None = field(default=None)

    def state_ref(self, c: Component) -> State:
        return State(c.name, tuple(a for a in c.body.axes if a != self.axis))

    def as_term(self) -> Term:
        sub = {self.state_ref(c): Reduce(c.monoid, self.axis, c.body) for c in self.components}
        return substitute(self.tail, sub)


def substitute(term: Term, mapping: dict[Term, Term]) -> Term:
    """Replace every occurrence of each key by its value (bottom-up, sharing kept)."""
    done: dict[int, Term] = {}
    for t in term.walk():
        if t in mapping:
            done[id(t)] = mapping[t]
        elif t.children:
            done[id(t)] = t.with_children(tuple(done[id(c)] for c in t.children))
        else:
            done[id(t)] = t
    return done[id(term)]


def nonlocal_reason(body: Term, axis: str) -> str | None:
    """Why `body` is not n-local (None if it is): what in it looks at more than one index."""
    for t in body.walk():
        if isinstance(t, Reduce) and t.axis == axis:
            return f"contains another reduction over {axis}: {t}"
        if isinstance(t, Opaque) and t.axis == axis:
            return f"contains {t.op} over {axis}, and {OPAQUE_OPS[t.op].why}"
        if isinstance(t, Size) and t.axis == axis:
            return f"uses the length |{axis}| of the whole axis"
        if isinstance(t, Rename) and axis in (t.old, t.new):
            return f"renames the axis {axis}"
        if isinstance(t, State):
            return f"refers to stream state {t.name}"
    return None


def _component_names(reductions: list[Reduce], out_axes: set[str], axis: str) -> list[str]:
    names, used = [], set()
    for r in reductions:
        axes = set(r.axes)
        if r.monoid == "sum":
            base = "o" if axes == out_axes and len(reductions) > 1 else "z" if axes < out_axes \
                else "r"
        else:
            base = {"max": "m", "min": "mn", "prod": "p"}[r.monoid]
        name, k = base, 2
        while name in used:
            name, k = f"{base}{k}", k + 1
        used.add(name)
        names.append(name)
    return names


def decompose(term: Term, axis: str) -> StreamForm:
    """The stream form of `term` along `axis`, if `term` is in stream normal form; else NotNormal."""
    if axis in term.axes:
        raise NotNormal(f"the result itself has axis {axis}: it grows with {axis}, so no "
                        "bounded state can hold it")
    reductions: list[Reduce] = []
    seen: set[int] = set()
    stack = [term]
    while stack:  # the part of the term outside every reduction over the axis: the tail
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if isinstance(t, Reduce) and t.axis == axis:
            why = nonlocal_reason(t.body, axis)
            if why:
                raise NotNormal(f"the body of {t.monoid}@{axis} {why}")
            if t not in reductions:
                reductions.append(t)
            continue
        if isinstance(t, Opaque) and t.axis == axis:
            raise NotNormal(f"{t.op} over {axis}: {OPAQUE_OPS[t.op].why}")
        if axis in t.axes:
            raise NotNormal(f"{t} carries {axis} outside any reduction over it")
        if isinstance(t, Size) and t.axis == axis:
            raise NotNormal(f"uses the length |{axis}| outside a reduction (count it: "
                            f"|{axis}| = Σ_{axis} 1)")
        if isinstance(t, Rename) and axis in (t.old, t.new):
            raise NotNormal(f"renames the axis {axis}")
        if isinstance(t, State):
            raise NotNormal(f"already refers to stream state {t.name}")
        stack.extend(reversed(t.children))  # left to right, for stable state names
    if not reductions:
        raise NotNormal(f"nothing in the term reduces over {axis}")
    out_axes = set(a for a in term.axes)
    names = _component_names(reductions, out_axes, axis)
    comps = tuple(Component(n, r.monoid, r.body) for n, r in zip(names, reductions))
    sf = StreamForm(axis, comps, term)
    tail = substitute(term, {r: sf.state_ref(c) for r, c in zip(reductions, comps)})
    return StreamForm(axis, comps, tail)
