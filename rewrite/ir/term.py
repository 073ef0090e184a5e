"""Terms: string diagrams of named-axis arrays, as immutable, hash-consed trees.

A term denotes an array over a set of *named* axes.  Composition aligns axes by name, never by
position, so `q[i,d] · k[j,d]` is an array over (i, d, j) and summing it over d leaves (i, j):

>>> q, k = Input("q", ("i", "d")), Input("k", ("j", "d"))
>>> s = Reduce("sum", "d", Elem("mul", (q, k)))
>>> s.axes
('i', 'j')
>>> s
(sum@d (mul q[i,d] k[j,d]))

Structurally equal terms are the same object (hash-consing), so equality is identity:

>>> Reduce("sum", "d", Elem("mul", (q, k))) is s
True

Node kinds
----------
Input(name, axes, dtype)   an argument of the traced function (dtype "float" or "bool")
State(name, axes)          a stream state component, referenced from a stream form's tail
Const(value, dtype)        a scalar constant (no axes)
Size(axis)                 the size of an axis, as a scalar (kept symbolic)
Pos(axis)                  the position along an axis: 0, 1, ..., |axis| − 1 as a float over it
Elem(op, args)             a scalar function (rewrite.ir.ops.SCALAR_OPS) broadcast over all axes
Reduce(monoid, axis, body) a monoid fold over one axis (rewrite.ir.ops.MONOIDS); removes the axis
Broadcast(axis, body)      copies body along a new axis
Opaque(op, axis, args, params)  a reduction that is not a monoid fold (sort, median, ...)
Rename(old, new, body)     renames one axis
Layout(order, body)        fixes the positional order of the axes (identity on named arrays)
"""
from __future__ import annotations

import math
import weakref
from typing import Iterator

from wirefuse.rewrite.ir.ops import MONOIDS, OPAQUE_OPS, SCALAR_OPS


class TermError(ValueError):
    """A term was built with arguments that do not make sense (bad op, axis clash, ...)."""


def union_axes(terms) -> tuple[str, ...]:
    out: list[str] = []
    for t in terms:
        for a in t.axes:
            if a not in out:
                out.append(a)
    return tuple(out)


class Term:
    """Base class: an immutable, interned node.  Subclasses declare `_fields`."""

    __slots__ = ("_key", "_hash", "axes", "dtype", "__weakref__")
    _fields: tuple[str, ...] = ()
    _table: "weakref.WeakValueDictionary[tuple, Term]" = weakref.WeakValueDictionary()

    def __new__(cls, *values):
        if len(values) != len(cls._fields):
            raise TermError(f"{cls.__name__} takes {len(cls._fields)} fields, got {len(values)}")
        values = cls._check(*values)
        key = (cls, values)
        found = Term._table.get(key)
        if found is not None:
            return found
        self = object.__new__(cls)
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_hash", hash(key))
        axes, dtype = cls._type(*values)
        object.__setattr__(self, "axes", axes)
        object.__setattr__(self, "dtype", dtype)
        Term._table[key] = self
        return self

    # --- subclass hooks -------------------------------------------------------------------
    @classmethod
    def _check(cls, *values):  # validate and normalise the fields; return them as a tuple
        return values

    @classmethod
    def _type(cls, *values) -> tuple[tuple[str, ...], str]:  # (axes, dtype)
        raise NotImplementedError

    # --- generic structure ----------------------------------------------------------------
    def __setattr__(self, name, value):
        raise AttributeError("terms are immutable")

    def __getattr__(self, name):
        fields = type(self)._fields
        if name in fields:
            return self._key[1][fields.index(name)]
        raise AttributeError(name)

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        return self is other

    def __reduce__(self):
        return (type(self), self._key[1])

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    @property
    def fields(self) -> tuple:
        return self._key[1]

    @property
    def children(self) -> tuple["Term", ...]:
        return ()

    def with_children(self, children: tuple["Term", ...]) -> "Term":
        """The same node over new children (used by rewriters)."""
        assert not children
        return self

    def __repr__(self):
        return to_sexpr(self)

    def walk(self) -> Iterator["Term"]:
        """Every distinct subterm, children before parents."""
        seen: set[int] = set()
        stack: list[tuple[Term, bool]] = [(self, False)]
        while stack:
            t, done = stack.pop()
            if id(t) in seen:
                continue
            if done:
                seen.add(id(t))
                yield t
            else:
                stack.append((t, True))
                for c in reversed(t.children):
                    if id(c) not in seen:
                        stack.append((c, False))

    def size(self) -> int:
        """Number of distinct nodes."""
        return sum(1 for _ in self.walk())

    # --- positions: tuples of child indices, for rule applications -----------------------
    def at(self, pos: tuple[int, ...]) -> "Term":
        t = self
        for i in pos:
            t = t.children[i]
        return t

    def replace_at(self, pos: tuple[int, ...], new: "Term") -> "Term":
        if not pos:
            return new
        kids = list(self.children)
        kids[pos[0]] = kids[pos[0]].replace_at(pos[1:], new)
        return self.with_children(tuple(kids))

    def positions(self) -> Iterator[tuple[tuple[int, ...], "Term"]]:
        """Every (position, subterm) pair, pre-order (a shared subterm appears once per path)."""
        stack: list[tuple[tuple[int, ...], Term]] = [((), self)]
        while stack:
            pos, t = stack.pop()
            yield pos, t
            for i in reversed(range(len(t.children))):
                stack.append((pos + (i,), t.children[i]))

    # --- sugar ------------------------------------------------------------------------------
    def __add__(self, o):
        return Elem("add", (self, lift(o)))

    def __radd__(self, o):
        return Elem("add", (lift(o), self))

    def __sub__(self, o):
        return Elem("sub", (self, lift(o)))

    def __rsub__(self, o):
        return Elem("sub", (lift(o), self))

    def __mul__(self, o):
        return Elem("mul", (self, lift(o)))

    def __rmul__(self, o):
        return Elem("mul", (lift(o), self))

    def __truediv__(self, o):
        return Elem("div", (self, lift(o)))

    def __rtruediv__(self, o):
        return Elem("div", (lift(o), self))

    def __neg__(self):
        return Elem("neg", (self,))

    def __pow__(self, o):
        return Elem("pow", (self, lift(o)))


def _check_axes(axes) -> tuple[str, ...]:
    axes = tuple(axes)
    for a in axes:
        if not isinstance(a, str) or not a.isidentifier():
            raise TermError(f"axis names must be identifiers, got {a!r}")
    if len(set(axes)) != len(axes):
        raise TermError(f"an array cannot have the same axis twice: {axes}")
    return axes


class Input(Term):
    __slots__ = ()
    _fields = ("name", "axes_", "dtype_")

    def __new__(cls, name, axes, dtype="float"):
        return super().__new__(cls, name, axes, dtype)

    @classmethod
    def _check(cls, name, axes, dtype):
        if not isinstance(name, str) or not name.isidentifier():
            raise TermError(f"input names must be identifiers, got {name!r}")
        if dtype not in ("float", "bool"):
            raise TermError(f"input dtype must be 'float' or 'bool', got {dtype!r}")
        return (name, _check_axes(axes), dtype)

    @classmethod
    def _type(cls, name, axes, dtype):
        return axes, dtype


class State(Term):
    """A stream state component, as the tail of a stream form sees it."""
    __slots__ = ()
    _fields = ("name", "axes_")

    @classmethod
    def _check(cls, name, axes):
        if not isinstance(name, str) or not name.isidentifier():
            raise TermError(f"state names must be identifiers, got {name!r}")
        return (name, _check_axes(axes))

    @classmethod
    def _type(cls, name, axes):
        return axes, "float"


class Const(Term):
    __slots__ = ()
    _fields = ("value", "dtype_")

    def __new__(cls, value, dtype=None):
        if dtype is None:
            dtype = "bool" if isinstance(value, bool) else "float"
        return super().__new__(cls, value, dtype)

    @classmethod
    def _check(cls, value, dtype):
        if dtype == "bool":
            return (bool(value), "bool")
        if dtype != "float":
            raise TermError(f"constant dtype must be 'float' or 'bool', got {dtype!r}")
        value = float(value)
        if math.isnan(value):
            raise TermError("NaN constants are not allowed")
        if value == 0.0:
            value = 0.0  # fold -0.0 into 0.0 so the two intern as one
        return (value, "float")

    @classmethod
    def _type(cls, value, dtype):
        return (), dtype


class Size(Term):
    """The size of an axis as a number: `q.shape[-1]` traces to Size('d')."""
    __slots__ = ()
    _fields = ("axis",)

    @classmethod
    def _check(cls, axis):
        return _check_axes((axis,))

    @classmethod
    def _type(cls, axis):
        return (), "float"


class Pos(Term):
    """The index along an axis as a value over it: `torch.arange(k.shape[-2])` traces to
    Pos('j') = 0, 1, ..., |j| − 1.  Along a stream axis it is a per-key leaf like an input over
    j: a chunk of keys start..start+n carries the positions start..start+n−1 (its global
    indices, never 0..n−1), which a streaming kernel knows."""
    __slots__ = ()
    _fields = ("axis",)

    @classmethod
    def _check(cls, axis):
        return _check_axes((axis,))

    @classmethod
    def _type(cls, axis):
        return (axis,), "float"


class Elem(Term):
    __slots__ = ()
    _fields = ("op", "args")

    @classmethod
    def _check(cls, op, args):
        spec = SCALAR_OPS.get(op)
        if spec is None:
            raise TermError(f"unknown scalar function {op!r}")
        args = tuple(args)
        for a in args:
            if not isinstance(a, Term):
                raise TermError(f"{op}: arguments must be terms, got {a!r}")
        if spec.arity == -1:
            if len(args) < 2:
                raise TermError(f"{op} takes two or more arguments, got {len(args)}")
        elif len(args) != spec.arity:
            raise TermError(f"{op} takes {spec.arity} arguments, got {len(args)}")
        return (op, args)

    @classmethod
    def _type(cls, op, args):
        return union_axes(args), SCALAR_OPS[op].result

    @property
    def children(self):
        return self.args

    def with_children(self, children):
        return Elem(self.op, children)


class Reduce(Term):
    __slots__ = ()
    _fields = ("monoid", "axis", "body")

    @classmethod
    def _check(cls, monoid, axis, body):
        if monoid not in MONOIDS:
            raise TermError(f"unknown monoid {monoid!r}; known: {', '.join(MONOIDS)}")
        _check_axes((axis,))
        if not isinstance(body, Term):
            raise TermError("Reduce body must be a term")
        return (monoid, axis, body)

    @classmethod
    def _type(cls, monoid, axis, body):
        # Reducing over an axis the body lacks folds |axis| copies of it (Σ_n c = |n|·c).
        return tuple(a for a in body.axes if a != axis), "float"

    @property
    def children(self):
        return (self.body,)

    def with_children(self, children):
        return Reduce(self.monoid, self.axis, children[0])


class Broadcast(Term):
    __slots__ = ()
    _fields = ("axis", "body")

    @classmethod
    def _check(cls, axis, body):
        _check_axes((axis,))
        if axis in body.axes:
            raise TermError(f"cannot broadcast along {axis}: the value already has that axis")
        return (axis, body)

    @classmethod
    def _type(cls, axis, body):
        return body.axes + (axis,), body.dtype

    @property
    def children(self):
        return (self.body,)

    def with_children(self, children):
        return Broadcast(self.axis, children[0])


class Opaque(Term):
    """A reduction along `axis` that is not a monoid fold; the prover refuses it with OPAQUE_OPS[op].why."""
    __slots__ = ()
    _fields = ("op", "axis", "args", "params")

    @classmethod
    def _check(cls, op, axis, args, params):
        if op not in OPAQUE_OPS:
            raise TermError(f"unknown opaque op {op!r}")
        args = tuple(args)
        if not args or axis not in args[0].axes:
            raise TermError(f"{op} along {axis}: its first argument must have that axis")
        return (op, axis, args, tuple(float(p) for p in params))

    @classmethod
    def _type(cls, op, axis, args, params):
        axes = union_axes(args)
        if not OPAQUE_OPS[op].keeps_axis:
            axes = tuple(a for a in axes if a != axis)
        return axes, "float"

    @property
    def children(self):
        return self.args

    def with_children(self, children):
        return Opaque(self.op, self.axis, children, self.params)


class Rename(Term):
    __slots__ = ()
    _fields = ("old", "new", "body")

    @classmethod
    def _check(cls, old, new, body):
        _check_axes((old, new))
        if old not in body.axes:
            raise TermError(f"cannot rename {old}: the value has axes {body.axes}")
        if new in body.axes:
            raise TermError(f"cannot rename {old} to {new}: {new} is already an axis")
        return (old, new, body)

    @classmethod
    def _type(cls, old, new, body):
        return tuple(new if a == old else a for a in body.axes), body.dtype

    @property
    def children(self):
        return (self.body,)

    def with_children(self, children):
        return Rename(self.old, self.new, children[0])


class Layout(Term):
    """Fixes the positional order of a value's axes (for results handed back to torch)."""
    __slots__ = ()
    _fields = ("order", "body")

    @classmethod
    def _check(cls, order, body):
        order = _check_axes(order)
        if sorted(order) != sorted(body.axes):
            raise TermError(f"layout {order} is not a permutation of the axes {body.axes}")
        return (order, body)

    @classmethod
    def _type(cls, order, body):
        return order, body.dtype

    @property
    def children(self):
        return (self.body,)

    def with_children(self, children):
        return Layout(self.order, children[0])


def lift(x) -> Term:
    """Python numbers become constants; terms pass through."""
    if isinstance(x, Term):
        return x
    if isinstance(x, (bool, int, float)):
        return Const(x)
    raise TermError(f"cannot make a term of {type(x).__name__}")


def contract(*terms: Term, over) -> Term:
    """Generalised einsum: multiply the terms and sum over the axes in `over`.

    >>> q, k = Input("q", ("i", "d")), Input("k", ("j", "d"))
    >>> contract(q, k, over=["d"]).axes
    ('i', 'j')
    """
    body = terms[0] if len(terms) == 1 else Elem("mul", tuple(terms))
    for a in over:
        body = Reduce("sum", a, body)
    return body


def inputs_of(term: Term) -> dict[str, Input]:
    return {t.name: t for t in term.walk() if isinstance(t, Input)}



# --- the printed form (`repr`); its parser, the inverse, is rewrite/ir/sexpr.py -------------

def format_number(v: float) -> str:
    """A float constant as printed: repr, with the infinities as `inf` and `-inf`."""
    if v == math.inf:
        return "inf"
    if v == -math.inf:
        return "-inf"
    return repr(float(v))


def to_sexpr(t: Term) -> str:
    # Iterative over distinct nodes so deep terms do not hit the recursion limit.
    out: dict[int, str] = {}
    for n in t.walk():
        out[id(n)] = _print_node(n, [out[id(c)] for c in n.children])
    return out[id(t)]


def _print_node(t: Term, kids: list[str]) -> str:
    if isinstance(t, Input):
        s = f"{t.name}[{','.join(t.axes)}]"
        return s + ":bool" if t.dtype == "bool" else s
    if isinstance(t, State):
        return f"${t.name}[{','.join(t.axes)}]"
    if isinstance(t, Const):
        return ("true" if t.value else "false") if t.dtype == "bool" else format_number(t.value)
    if isinstance(t, Size):
        return f"|{t.axis}|"
    if isinstance(t, Pos):
        return f"#{t.axis}"
    if t.children:
        return f"({head(t)} {' '.join(kids)})"
    raise TermError(f"cannot print {type(t).__name__}")


def head(t: Term) -> str:
    """The operator part of a composite node, as printed: `exp`, `sum@j`, `quantile@j:0.5`."""
    if isinstance(t, Elem):
        return t.op
    if isinstance(t, Reduce):
        return f"{t.monoid}@{t.axis}"
    if isinstance(t, Broadcast):
        return f"bcast@{t.axis}"
    if isinstance(t, Rename):
        return f"rename@{t.old}:{t.new}"
    if isinstance(t, Layout):
        return f"layout@{','.join(t.order)}"
    if isinstance(t, Opaque):
        ps = (":" + ",".join(format_number(p) for p in t.params)) if t.params else ""
        return f"{t.op}@{t.axis}{ps}"
    raise TermError(f"cannot print {type(t).__name__}")
