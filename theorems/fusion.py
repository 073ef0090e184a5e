"""The fusion theorems of docs/theory.md §5 and the normalised-contraction lemma, as constructions on
stream forms.  Each keeps the streamed axis and changes the accumulator, never the value:

    for every construction F here,  F(...).as_term()  denotes the function F claims to stream,

and each returns the obligations that make it so (checked by `obligations_hold` and by the
tests numerically).  The term rewrites in rules.algebra / rules.reductions are what the prover
replays; these are the theorems those rewrites mechanise, stated once.

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> sf, obl = linear_split(parse("(sum@j (mul p[i,j] v[j,e]))"))
>>> [(c.name, c.monoid) for c in sf.components], sf.tail
([('o', 'sum')], $o[i,e])
"""
from __future__ import annotations

from typing import Callable

from wirefuse.rewrite.ir.term import Elem, Input, Reduce, State, Term
from wirefuse.theorems.stream import Component, StreamForm, nonlocal_reason, substitute


def linear_split(t: Reduce) -> tuple[StreamForm, list[str]]:
    """Theorem 5: Σ_n c is a stream with state o, B(o, c) = o + Σ c, tail o."""
    assert isinstance(t, Reduce) and t.monoid == "sum"
    c = Component("o", "sum", t.body)
    sf = StreamForm(t.axis, (c,), State("o", t.axes))
    return sf, [f"body n-local along {t.axis}: {nonlocal_reason(t.body, t.axis) is None}"]


def compose_tail(sf: StreamForm, g: Term, hole: State) -> tuple[StreamForm, list[str]]:
    """Theorem 1: g ∘ (stream with tail t) = stream with tail g ∘ t (g mentions `hole` for t)."""
    probe = substitute(g, {hole: Input("hole__", hole.axes)})  # g itself, its hole aside
    bad = nonlocal_reason(probe, sf.axis) if hole in set(g.walk()) else "g does not use its hole"
    return StreamForm(sf.axis, sf.components, substitute(g, {hole: sf.tail}), sf.shift), \
        [f"g free of {sf.axis}: {bad is None and sf.axis not in probe.axes}"]


def broadcast(sf: StreamForm, axis: str, of: Callable[[Term], Term]) -> tuple[StreamForm, list[str]]:
    """Theorem 2: a stream whose bodies gain an axis (via `of`, e.g. a substitution of inputs
    by inputs that carry `axis`) is a stream whose state gains that axis; the tail is the same
    expression over the widened states."""
    comps = tuple(Component(c.name, c.monoid, of(c.body)) for c in sf.components)
    new = StreamForm(sf.axis, comps, sf.tail)
    tail = substitute(sf.tail, {sf.state_ref(c): new.state_ref(d)
                                for c, d in zip(sf.components, comps)})
    return StreamForm(sf.axis, comps, tail), [f"{axis} ≠ {sf.axis}: {axis != sf.axis}"]


def precompose(sf: StreamForm, h: dict[Input, Term]) -> tuple[StreamForm, list[str]]:
    """Theorem 3: stream ∘ h, h acting on each index of n on its own (n-local), is a stream
    whose per-index map absorbs h (e.g. the score contraction q·k over d)."""
    why = [nonlocal_reason(v, sf.axis) for v in h.values()]
    comps = tuple(Component(c.name, c.monoid, substitute(c.body, h)) for c in sf.components)
    return StreamForm(sf.axis, comps, sf.tail), [f"h n-local: {all(w is None for w in why)}"]


def pair(a: StreamForm, b: StreamForm, g: Callable[[Term, Term], Term]) -> tuple[StreamForm, list[str]]:
    """Theorem 4: two streams over one axis are one stream over the product state (product of
    monoids), tail g(tail_a, tail_b); b's state names are primed apart from a's."""
    assert a.axis == b.axis
    names = {c.name for c in a.components}
    ren, comps = {}, list(a.components)
    for c in b.components:
        n = c.name
        while n in names:
            n += "_b"
        names.add(n)
        d = Component(n, c.monoid, c.body)
        ren[b.state_ref(c)] = State(n, b.state_ref(c).axes)
        comps.append(d)
    tail = g(a.tail, substitute(b.tail, ren))
    return StreamForm(a.axis, tuple(comps), tail), ["monoid laws hold componentwise"]


def normalised_contraction(a1, a2, b, x: Term, y: Term, axis: str) -> tuple[StreamForm, list[str]]:
    """Lemma: NC(x, y) = Σ_n a1(x) y / b(Σ_n a2(x)) streams with state (o, z), identity (0, 0),
    B((o, z), (x, y)) = (o + Σ a1(x)·y, z + Σ a2(x)), tail o / b(z)."""
    o = Component("o", "sum", Elem("mul", (a1(x), y)))
    z = Component("z", "sum", a2(x))
    sf = StreamForm(axis, (o, z), Elem("div", (State("o", tuple(a for a in o.body.axes if a != axis)),
                                               b(State("z", tuple(a for a in z.body.axes
                                                                  if a != axis))))))
    return sf, [f"a1(x)·y and a2(x) n-local: "
                f"{nonlocal_reason(o.body, axis) is None and nonlocal_reason(z.body, axis) is None}"]


def parallel_split(sf: StreamForm, parts: int) -> tuple[StreamForm, list[str]]:
    """The parallel split (split-KV, "flash decoding"): cut n into `parts` pieces, stream each
    on its own from the identity, combine the `parts` states with ⊙ in any bracketing, then
    apply the tail.  The same stream form serves; what makes it right is associativity of ⊙
    with its identity, which theorems.checker proves for every certificate's combine."""
    return sf, [f"{parts} ≥ 1: {parts >= 1}", "⊙ associative with identity (checked per "
                "certificate): any bracketing of the part states gives the sequential state"]


def obligations_hold(obligations: list[str]) -> bool:
    return all(not o.endswith("False") for o in obligations)
