"""What the tracer knows about each traced value: a term plus the axis name of every position.

A torch tensor is positional; a term is named.  The tracer keeps both views of each value:
`TV.term` (whose axes are exactly the named positions) and `TV.dims`, one entry per torch
dimension, holding the axis name or `None` for a size-1 dimension with no name (one kept by
`keepdim=True`, or made by `unsqueeze`/`None`-indexing).  Broadcasting aligns positions from the
right, as torch does, and then checks that the names agree:

>>> from wirefuse.rewrite.ir.term import Input
>>> ctx = Context({"i", "j"})
>>> s = TV(Input("s", ("i", "j")), ("i", "j"))
>>> m = TV(Input("m", ("i",)), ("i", None))       # s.amax(-1, keepdim=True)
>>> vals, dims = align(ctx, [s, m])
>>> dims
('i', 'j')

Two names at one position mean the axis spec does not match what the code does:

>>> align(ctx, [s, TV(Input("t", ("j", "i")), ("j", "i"))])
Traceback (most recent call last):
...
wirefuse.rewrite.errors.AxisSpecError: dimension -2 lines up axis i of one operand with axis j of another; if they are the same dimension, give them one name in the axis spec

One name at two positions (an outer product `x[:, None] * x[None, :]`) gets a fresh name:

>>> x = Input("x", ("j",))
>>> vals, dims = align(ctx, [TV(x, ("j", None)), TV(x, (None, "j"))])
>>> dims, vals[1].term
(('j', 'j_1'), (rename@j:j_1 x[j]))
"""
from __future__ import annotations

from dataclasses import dataclass

from wirefuse.rewrite.errors import AxisSpecError, TraceError
from wirefuse.rewrite.ir.term import Const, Elem, Opaque, Reduce, Rename, Size, Term


@dataclass(frozen=True)
class TV:
    """A traced tensor: `term` over the named entries of `dims`; kind is float, int or bool."""
    term: Term
    dims: tuple
    kind: str = "float"

    def __post_init__(self):
        named = [d for d in self.dims if d is not None]
        assert sorted(named) == sorted(self.term.axes), (self.dims, self.term.axes)

    @property
    def ndim(self) -> int:
        return len(self.dims)

    def describe(self) -> str:
        return "(" + " ".join(d if d is not None else "1" for d in self.dims) + ")"


@dataclass(frozen=True)
class Unusable:
    """A value the tracer cannot represent (the indices of max/sort, ...): an error if used."""
    what: str


class Multi(tuple):
    """A tuple result (values, indices), also readable as `.values` / `.indices`."""
    fields: tuple = ("values", "indices")


class DTypeOf:
    """`x.dtype` seen by the tracer: only its kind matters."""

    def __init__(self, kind):
        self.kind = kind


class TopKValues:
    """The values of x.topk(k, dim): a new axis of size k, which named axes cannot hold.  Only
    single entries are supported (vals[..., -1:] is the k-th largest, the usual threshold), as
    a gather at a constant index into the sorted row (both opaque to the prover)."""

    def __init__(self, x: TV, p: int, k: int, largest: bool):
        self.x, self.p, self.k, self.largest = x, p, k, largest

    def entry(self, m: int, keepdim: bool) -> TV:
        if not -self.k <= m < self.k:
            raise TraceError(f"topk: index {m} is out of range for k = {self.k}")
        x, p = self.x, self.p
        m %= self.k
        dims = tuple(None if q == p else d for q, d in enumerate(x.dims)) if keepdim \
            else tuple(d for q, d in enumerate(x.dims) if q != p)
        if x.dims[p] is None:  # k must be 1 along a size-1 dimension
            return TV(x.term, dims, x.kind)
        a = x.dims[p]
        srt = Opaque("sort", a, (Elem("neg", (x.term,)) if self.largest else x.term,), ())
        srt = Elem("neg", (srt,)) if self.largest else srt
        # one index per row: constant along the axis, so max over it picks the entry
        t = Reduce("max", a, Opaque("gather", a, (srt, Const(float(m))), ()))
        return TV(t, dims, x.kind)


def unsupported_topk(_):
    return TraceError("topk values are supported only one entry at a time (vals[..., -1:] as "
                      "a threshold, or vals.min(dim)); their axis of size k has no name")


class Context:
    """Per-trace state: the axis names in use, and where each fresh name came from."""

    def __init__(self, names):
        self.used = set(names)
        self.declared = frozenset(names)
        self.origin: dict[str, str] = {n: n for n in names}
        self.bool_inputs: set[str] = set()

    def fresh(self, name: str, avoid=()) -> str:
        """A new name for a second copy of axis `name`: the lowest `name_k` not in `avoid` and not
        declared by the user.  It is deterministic, so `x @ x.mT` and `x @ x.T` both give
        (i, i_1) and can be added: a name only labels a position, and align() checks that
        operands agree on the label of every position."""
        base = self.origin.get(name, name)
        k = 1
        while f"{base}_{k}" in self.declared or f"{base}_{k}" in avoid:
            k += 1
        new = f"{base}_{k}"
        self.used.add(new)
        self.origin[new] = base
        return new

    def size(self, name: str) -> Term:
        """The size of an axis, as a term (a fresh name has the size of the axis it copies)."""
        return Size(self.origin.get(name, name))


def scalar(x) -> TV:
    """A Python number (or a TV already) as a value with no dimensions."""
    if isinstance(x, TV):
        return x
    if isinstance(x, bool):
        return TV(Const(x), (), "bool")
    if isinstance(x, int):
        return TV(Const(float(x)), (), "int")
    if isinstance(x, float):
        return TV(Const(x), (), "float")
    if isinstance(x, Unusable):
        raise TraceError(f"{x.what} cannot be used by the tracer")
    raise TraceError(f"a value of type {type(x).__name__} cannot be used as a tensor here")


def norm_dim(v: TV, d, extra: int = 0) -> int:
    """A torch `dim` argument as a position in 0..ndim-1 (+extra, for unsqueeze)."""
    if isinstance(d, TV) or isinstance(d, bool) or not isinstance(d, int):
        raise TraceError(f"dim must be a Python int, got {d!r}")
    n = v.ndim + extra
    if not -n <= d < n or n == 0:
        raise AxisSpecError(f"dimension {d} is out of range for a value with {v.ndim} "
                            f"dimensions {v.describe()}; check the axis spec")
    return d % n


def norm_dims(v: TV, dim) -> list[int]:
    """`dim=None` (all), an int, or a tuple/list of ints, as sorted distinct positions."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return list(range(v.ndim))
    if isinstance(dim, (tuple, list)):
        pos = [norm_dim(v, d) for d in dim]
        if len(set(pos)) != len(pos):
            raise TraceError(f"dim {dim} names a dimension twice")
        return sorted(pos)
    return [norm_dim(v, dim)]


def rename(v: TV, old: str, new: str) -> TV:
    return TV(Rename(old, new, v.term), tuple(new if d == old else d for d in v.dims), v.kind)


def align_dims(ctx: Context, dims_list: list[tuple], avoid=()) -> tuple[tuple, list[list]]:
    """Broadcast dims against each other as torch does (from the right), naming each position.

    Returns the result's dims and, per operand, the renames [(old, new)] it needs."""
    n = max((len(d) for d in dims_list), default=0)
    dims_list = [list(d) for d in dims_list]
    renames: list[list] = [[] for _ in dims_list]

    def at(dims, p: int):
        k = p - (n - len(dims))
        return dims[k] if k >= 0 else None

    def origin(a):
        return ctx.origin.get(a, a)

    # Copies of one axis (i and i_1, as in g + g.mT with g = x @ x.mT) have the same size, so
    # torch pairs them positionally: relabel the operand that disagrees (a swap if it has both).
    for _ in range(4 * n + 4):
        clash = False
        for p in range(n):
            names = {at(d, p) for d in dims_list} - {None}
            if len(names) <= 1:
                continue
            if len({origin(a) for a in names}) > 1:
                a, b = sorted(names, key=lambda x: (origin(x) == x, x))[:2]
                if origin(a) != a and origin(b) != origin(a):
                    # torch.ones(n, n) with n = |i| met by an axis j: the code assumes |i| = |j|
                    raise AxisSpecError(
                        f"dimension {p - n} lines up axis {a} (a second copy of {origin(a)}, as "
                        f"torch.ones(n, n) makes) with axis {b}: that assumes |{origin(a)}| = "
                        f"|{origin(b)}|, which the axis spec does not say; take that dimension's "
                        f"size from an input over {origin(b)} (like k.shape[-2])")
                raise AxisSpecError(f"dimension {p - n} lines up axis {a} of one operand with "
                                    f"axis {b} of another; if they are the same dimension, give "
                                    "them one name in the axis spec")
            clash = True
            target = min(names, key=lambda a: (a != origin(a), a))
            for i, d in enumerate(dims_list):
                cur = at(d, p)
                if cur is None or cur == target:
                    continue
                if target in d:  # swap cur and target within this operand
                    tmp = ctx.fresh(cur, set(avoid) | {x for dd in dims_list for x in dd})
                    renames[i] += [(target, tmp), (cur, target), (tmp, cur)]
                    dims_list[i] = [tmp if x == target else x for x in d]
                    dims_list[i] = [target if x == cur else x for x in dims_list[i]]
                    dims_list[i] = [cur if x == tmp else x for x in dims_list[i]]
                else:
                    renames[i].append((cur, target))
                    dims_list[i] = [target if x == cur else x for x in d]
            break
        if not clash:
            break
    else:
        raise AxisSpecError("cannot line up the copies of one axis across the operands")
    out = [next((at(d, p) for d in dims_list if at(d, p) is not None), None) for p in range(n)]
    seen: set[str] = set()
    for p, name in enumerate(out):
        if name is None:
            continue
        if name in seen:  # the same axis at two positions: an outer product, not a diagonal
            new = ctx.fresh(name, set(avoid) | seen | {x for d in dims_list for x in d})
            for i, d in enumerate(dims_list):
                if at(d, p) == name:
                    renames[i].append((name, new))
            out[p] = new
        seen.add(out[p])
    return tuple(out), renames


def align(ctx: Context, vals: list) -> tuple[list[TV], tuple]:
    """Broadcast values against each other (see align_dims); returns them renamed, and the dims."""
    vals = [scalar(v) for v in vals]
    out, renames = align_dims(ctx, [v.dims for v in vals])
    for i, rs in enumerate(renames):
        for old, new in rs:
            vals[i] = rename(vals[i], old, new)
    return vals, out
