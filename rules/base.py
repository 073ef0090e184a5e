"""The rule type, the registry, and the AC canonical form that every rewrite is taken modulo.

A `Rule` rewrites at the root of a term: `rule.rewrite(t)` lists every `(new_term, bindings)` it
can produce there, each `bindings` a small JSON-able dict that says which choice was made (which
factor was pulled out, which two powers were collected).  A *step* is (rule, position, bindings);
replaying it is `apply_step`.  Side conditions are checked inside `rewrite`: a rule whose side
condition fails produces nothing, so replaying a step re-checks it.

Sums and products are n-ary; `canon` flattens nested ones and sorts their arguments by a stable
key, so associativity and commutativity never need rules (sound: + and · are AC over the reals).

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> canon(parse("(mul (mul b[i] a[i]) 2.0)"))
(mul 2.0 a[i] b[i])
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from wirefuse.rewrite.ir.sexpr import to_sexpr
from wirefuse.rewrite.ir.term import Const, Elem, Term, TermError

Bindings = dict


@dataclass(frozen=True)
class Rule:
    """A named rewrite: `equation` is what it states, `side_condition` when it may fire."""
    name: str
    family: str
    equation: str
    side_condition: str
    fn: Callable[[Term], list]
    # The rule whose egglog encoding (search/egg/) reaches the same e-class, for a rule that has
    # none of its own: a reverse direction (an e-graph union is symmetric) or a composite.
    via: str | None = None

    def rewrite(self, t: Term) -> list[tuple[Term, Bindings]]:
        """Every rewrite of `t` at its root, with the choices made, side conditions checked."""
        return list(self.fn(t))

    def __repr__(self):
        return f"Rule({self.name}: {self.equation})"


REGISTRY: dict[str, Rule] = {}


def rule(family: str, equation: str, side_condition: str = "none", via: str | None = None):
    """Decorator: register `fn(t) -> iterable of (new, bindings)` as a rule named after it.

    The equation and side condition stated here are the only copy: search/egg/ looks them up
    by name.  `via`: see `Rule.via`."""
    def deco(fn):
        r = Rule(fn.__name__, family, equation, side_condition, fn, via)
        if r.name in REGISTRY:
            raise ValueError(f"rule {r.name} registered twice")
        REGISTRY[r.name] = r
        return r
    return deco


# --- AC canonical form ------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def sort_key(t: Term) -> str:
    return to_sexpr(t)


@functools.lru_cache(maxsize=200_000)
def canon(t: Term) -> Term:
    """Flatten nested add/mul and sort their arguments; everything else unchanged."""
    kids = tuple(canon(c) for c in t.children)
    if isinstance(t, Elem) and t.op in ("add", "mul"):
        flat: list[Term] = []
        for k in kids:
            if isinstance(k, Elem) and k.op == t.op:
                flat.extend(k.args)
            else:
                flat.append(k)
        return Elem(t.op, tuple(sorted(flat, key=sort_key)))
    return t.with_children(kids) if kids != t.children else t


# --- builders ----------------------------------------------------------------------------------
def C(v) -> Const:
    return Const(float(v))


def nary(op: str, args) -> Term:
    """add/mul of the given arguments (one argument: itself), flattened."""
    flat: list[Term] = []
    for a in args:
        if isinstance(a, Elem) and a.op == op:
            flat.extend(a.args)
        else:
            flat.append(a)
    if not flat:
        return C(0.0 if op == "add" else 1.0)
    return flat[0] if len(flat) == 1 else Elem(op, tuple(flat))


def is_op(t: Term, op: str) -> bool:
    return isinstance(t, Elem) and t.op == op


def const_value(t: Term):
    """The float value of a float constant, else None."""
    if isinstance(t, Const) and t.dtype == "float":
        return t.value
    return None


def is_integer(t: Term) -> bool:
    v = const_value(t)
    return v is not None and v == v and abs(v) != float("inf") and float(v).is_integer()


def independent(t: Term, axis: str) -> bool:
    """t's value does not vary along `axis`: with named axes, exactly `axis not in t.axes`.

    `Σ_n x[n]` and `|n|` are independent of n (n is bound or only measured); `x[n]` is not.
    A reduction over n binds n, so nothing inside it can leak the index.

    >>> from wirefuse.rewrite.ir.sexpr import parse
    >>> [independent(parse(s), "n") for s in ("(sum@n x[n])", "|n|", "x[n]")]
    [True, True, False]
    """
    return axis not in t.axes


def apply_step(term: Term, rule_: Rule, pos: tuple[int, ...], bindings: Bindings) -> Term | None:
    """Replay one step on the canonical `term`: the canonical result, or None if it does not apply."""
    try:
        sub = term.at(tuple(pos))
    except (IndexError, AttributeError):
        return None
    for new, b in rule_.rewrite(sub):
        if b == bindings:
            return rebuild(term, tuple(pos), new)
    return None


def rebuild(term: Term, pos: tuple[int, ...], new: Term) -> Term | None:
    """canon(term with `new` at `pos`), or None if that is not a well-formed term with the same
    axes.  A rewrite may drop axes from a subterm (x^0 = 1): values agree pointwise under
    broadcasting by name, but the whole term must keep its axes (and a layout or rename above
    must still make sense)."""
    try:
        out = term.replace_at(pos, new)
    except TermError:
        return None
    return canon(out) if set(out.axes) == set(term.axes) else None

