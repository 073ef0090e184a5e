"""The tracer's shape-level handlers: layout, contractions, shapes as numbers, and values
built from axis sizes (arange, ones/zeros/full, tril/triu).

Layout changes positions, never names: `x.mT` is the same term with two dims swapped.  A
contraction multiplies and sums over the contracted axis (`matmul`, `einsum`).  `arange(start,
end)` over an axis of size end − start is `start + #axis` (the position leaf `Pos`), and
tril/triu compare positions: `tril(ones(n, m))` is `#j − #i ≤ 0` over (i, j).
"""
from __future__ import annotations

import sympy

from wirefuse.rewrite.errors import AxisSpecError, TraceError
from wirefuse.rewrite.ir.ops import SCALAR_OPS
from wirefuse.rewrite.ir.term import Broadcast, Const, Elem, Pos, Reduce, Rename, Size, Term
from wirefuse.rewrite.trace.registry import (HANDLERS, handler, is_py, kind_of_dtype, reduced_size,
                                             tensor)
from wirefuse.rewrite.trace.values import (TV, Context, align_dims, norm_dim, norm_dims, rename,
                                           scalar)

@handler("arange")
def _arange(ctx, *args, **kwargs):
    """arange(start, end) over an axis whose size is end − start: start + #axis."""
    kind = kind_of_dtype(kwargs.pop("dtype", None))
    for k in ("device", "layout", "requires_grad", "pin_memory"):
        kwargs.pop(k, None)
    step = kwargs.pop("step", 1)
    start, end = (0, args[0]) if len(args) == 1 else (args[0], args[1])
    if len(args) > 2:
        step = args[2]
    if kwargs or step != 1:
        raise TraceError("arange: only arange(end) and arange(start, end) with step 1 are "
                         "supported")
    length = _sym(scalar(end).term) - _sym(scalar(start).term)
    for name in sorted(ctx.used):
        if name == ctx.origin.get(name, name) and sympy.simplify(length - sympy.Symbol(name)) == 0:
            break
    else:
        raise TraceError("arange: its length must be the size of an axis (like "
                         "torch.arange(1, x.shape[-1] + 1))")
    t: Term = Pos(name)  # 0, 1, ..., |axis| − 1
    if not is_py(start):
        t = Elem("add", (scalar(start).term, t))
    elif start != 0:
        t = Elem("add", (Const(float(start)), t))
    if kind is None:
        kind = "float" if any(isinstance(a, float) or (isinstance(a, TV) and a.kind == "float")
                              for a in (start, end)) else "int"
    return TV(t, (name,), kind)


def _sym(t: Term):
    """A scalar term (sizes and constants) as a sympy expression."""
    if isinstance(t, Size):
        return sympy.Symbol(t.axis)
    if isinstance(t, Const):
        return sympy.nsimplify(t.value)
    if isinstance(t, Elem) and not t.axes:
        return SCALAR_OPS[t.op].sympy_fn(*[_sym(a) for a in t.args])
    raise TraceError("arange: its bounds must be numbers or axis sizes")


def _const_like(ctx, x: TV, value, op, dtype=None) -> TV:
    kind = kind_of_dtype(dtype) or ("bool" if isinstance(value, bool) else
                                     (x.kind if op != "full_like" else "float"))
    t = Const(bool(value), "bool") if kind == "bool" else Const(float(value))
    for d in x.dims:
        if d is not None:
            t = Broadcast(d, t)
    return TV(t, x.dims, kind)


@handler("ones_like")
def _ones_like(ctx, x, dtype=None, **kw):
    return _const_like(ctx, tensor(x, "ones_like"), True if kind_of_dtype(dtype) == "bool"
                       else 1, "ones_like", dtype)


@handler("zeros_like")
def _zeros_like(ctx, x, dtype=None, **kw):
    return _const_like(ctx, tensor(x, "zeros_like"), False if kind_of_dtype(dtype) == "bool"
                       else 0, "zeros_like", dtype)


@handler("full_like")
def _full_like(ctx, x, fill_value, dtype=None, **kw):
    return _const_like(ctx, tensor(x, "full_like"), fill_value, "full_like", dtype)


def _axis_const(ctx: Context, name: str, value: Term) -> Term:
    """`value` broadcast along axis `name`; a second copy of an axis (i_1) is the axis
    broadcast and then renamed, so that the evaluator knows its size."""
    origin = ctx.origin.get(name, name)
    t = Broadcast(origin, value)
    return t if origin == name else Rename(origin, name, t)


def _filled(ctx, sizes, value, dtype, op) -> TV:
    """torch.ones/zeros/full over sizes read from shapes: one named axis per size."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = sizes[0]
    kind = kind_of_dtype(dtype) or ("bool" if isinstance(value, bool) else "float")
    c = Const(bool(value), "bool") if kind == "bool" else Const(float(value))
    dims, parts = [], []
    for sz in sizes:
        if isinstance(sz, int) and not isinstance(sz, bool) and sz == 1:
            dims.append(None)
            continue
        axis = _size_axis(ctx, sz)
        if axis is None:
            raise TraceError(f"{op}: sizes must be sizes of axes (like q.shape[-2]) or 1, got "
                             f"{sz!r}; a fixed size would not follow the axes")
        if axis in dims:
            axis = ctx.fresh(axis, set(dims))
        dims.append(axis)
        parts.append(_axis_const(ctx, axis, Const(True, "bool") if kind == "bool"
                                 else Const(1.0)))
    if not parts:
        return TV(c, tuple(dims), kind)
    t = parts[0] if len(parts) == 1 else Elem("and" if kind == "bool" else "mul", tuple(parts))
    if kind == "bool" and not value:
        t = Elem("not", (t,))
    elif kind != "bool" and float(value) != 1.0:
        t = Elem("mul", (t, c))
    return TV(t, tuple(dims), kind if kind != "int" else "int")


def _factory(value_of):
    def h(ctx, *sizes, **kw):
        for k in ("device", "layout", "requires_grad", "pin_memory", "memory_format"):
            kw.pop(k, None)
        dtype = kw.pop("dtype", None)
        if "size" in kw:
            sizes = (kw.pop("size"),)
        value, sizes = value_of(sizes, kw)
        if kw:
            raise TraceError(f"unsupported arguments {', '.join(kw)}")
        return _filled(ctx, sizes, value, dtype, "tensor factory")
    return lambda ctx, args, kw: h(ctx, *args, **kw)


HANDLERS["ones"] = _factory(lambda s, kw: (1, s))
HANDLERS["zeros"] = _factory(lambda s, kw: (0, s))
HANDLERS["full"] = _factory(lambda s, kw: (kw.pop("fill_value", s[1] if len(s) > 1 else None),
                                           s[:1]))


def _position(ctx: Context, x: TV, p: int) -> Term:
    """The index 0, 1, ... along dimension p, as a term: the position leaf of its axis (a
    second copy i_1 of an axis is the copy's positions, renamed)."""
    if x.dims[p] is None:
        return Const(0.0)
    name = x.dims[p]
    origin = ctx.origin.get(name, name)
    return Pos(origin) if origin == name else Rename(origin, name, Pos(origin))


def _all_ones(t: Term) -> bool:
    """t is 1 (true) everywhere: what torch.ones / ones_like build (broadcasts of 1 or true,
    renamed, and'ed or multiplied together)."""
    if isinstance(t, Const):
        return t.value is True or (t.dtype == "float" and t.value == 1.0)
    if isinstance(t, (Broadcast, Rename)):
        return _all_ones(t.body)
    return isinstance(t, Elem) and t.op in ("and", "mul") and all(_all_ones(a) for a in t.args)


def _triangle(lower: bool):
    def h(ctx, input, diagonal=0):
        x = tensor(input, "tril" if lower else "triu")
        if x.ndim < 2:
            raise AxisSpecError("tril/triu need two dimensions")
        if not isinstance(diagonal, int):
            raise TraceError("tril/triu: diagonal must be a Python int")
        r, c = _position(ctx, x, x.ndim - 2), _position(ctx, x, x.ndim - 1)
        offset = Elem("sub", (c, r))  # column − row
        keep = Elem("le" if lower else "ge", (offset, Const(float(diagonal))))
        if _all_ones(x.term) and set(keep.axes) == set(x.term.axes):
            # tril(ones): the triangle itself (as a mask, or 0/1), no select of ones
            return TV(keep if x.kind == "bool" else Elem("float", (keep,)), x.dims, x.kind)
        zero = Const(False, "bool") if x.kind == "bool" else Const(0.0)
        t = Elem("and", (keep, x.term)) if x.kind == "bool" else Elem("where", (keep, x.term,
                                                                               zero))
        return TV(t, x.dims, x.kind)
    return lambda ctx, args, kw: h(ctx, *args, **kw)


HANDLERS["tril"] = _triangle(True)
HANDLERS["triu"] = _triangle(False)


# --- layout: positions change, names do not -------------------------------------------------

@handler("transpose", "swapaxes", "swapdims", spec="input, dim0, dim1")
def _transpose(ctx, input, dim0, dim1):
    x = tensor(input, "transpose")
    a, b = norm_dim(x, dim0), norm_dim(x, dim1)
    d = list(x.dims)
    d[a], d[b] = d[b], d[a]
    return TV(x.term, tuple(d), x.kind)


@handler("t")
def _t(ctx, x):
    x = tensor(x, "t")
    return TV(x.term, tuple(reversed(x.dims)), x.kind)


@handler("permute")
def _permute(ctx, x, *dims, **kw):
    x = tensor(x, "permute")
    if "dims" in kw:
        dims = kw["dims"]
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = dims[0]
    pos = [norm_dim(x, d) for d in dims]
    if sorted(pos) != list(range(x.ndim)):
        raise AxisSpecError(f"permute{tuple(dims)} is not a permutation of the {x.ndim} "
                            f"dimensions {x.describe()}")
    return TV(x.term, tuple(x.dims[p] for p in pos), x.kind)


@handler("movedim", "moveaxis", spec="input, source, destination")
def _movedim(ctx, input, source, destination):
    x = tensor(input, "movedim")
    if not isinstance(source, int) or not isinstance(destination, int):
        raise TraceError("movedim: only one source and one destination dim are supported")
    s, t = norm_dim(x, source), norm_dim(x, destination)
    d = list(x.dims)
    d.insert(t, d.pop(s))
    return TV(x.term, tuple(d), x.kind)


@handler("unsqueeze", spec="input, dim")
def _unsqueeze(ctx, input, dim):
    x = tensor(input, "unsqueeze")
    p = norm_dim(x, dim, extra=1)
    return TV(x.term, x.dims[:p] + (None,) + x.dims[p:], x.kind)


@handler("squeeze")
def _squeeze(ctx, x, dim=None):
    x = tensor(x, "squeeze")
    if dim is None:
        named = [d for d in x.dims if d is not None]
        if named:
            # torch would also drop any named axis that happens to have size 1 at run time
            raise TraceError("squeeze() without dim would also drop named axes of size 1; "
                             "give the dimension: x.squeeze(-1)")
        return TV(x.term, tuple(named), x.kind)
    pos = norm_dims(x, dim)
    for p in pos:
        if x.dims[p] is not None:
            raise TraceError(f"squeeze: dimension {p} is axis {x.dims[p]}, which is not known "
                             "to have size 1")
    return TV(x.term, tuple(d for k, d in enumerate(x.dims) if k not in pos), x.kind)


def _size_axis(ctx, s):
    """The axis a target size names: a `Size` term (from x.shape[...]) or None."""
    if isinstance(s, TV) and isinstance(s.term, Size):
        return s.term.axis
    return None


def _expand_to(ctx, x: TV, target: list, op: str) -> TV:
    """Expand size-1 dims to the given sizes: each new size must be an axis size (x.shape[k])."""
    n = len(target)
    if n < x.ndim:
        raise TraceError(f"{op}: fewer sizes than dimensions")
    dims = [None] * (n - x.ndim) + list(x.dims)
    t = x.term
    for p, s in enumerate(target):
        if s == -1 or (isinstance(s, int) and not isinstance(s, bool) and s == 1
                       and dims[p] is None):
            continue
        axis = s if isinstance(s, str) else _size_axis(ctx, s)
        if axis is None:
            raise TraceError(f"{op}: sizes must be -1 or sizes of axes (like k.shape[-2]), "
                             f"got {s!r}")
        if dims[p] is not None:
            if ctx.origin.get(dims[p], dims[p]) != axis:
                raise AxisSpecError(f"{op}: dimension {p} is axis {dims[p]}, not {axis}")
            continue
        if axis in t.axes:
            raise TraceError(f"{op}: axis {axis} would appear twice in one value")
        t = Broadcast(axis, t)
        dims[p] = axis
    return TV(t, tuple(dims), x.kind)


@handler("expand")
def _expand(ctx, x, *sizes, **kw):
    kw.pop("implicit", None)
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = sizes[0]
    return _expand_to(ctx, tensor(x, "expand"), list(sizes), "expand")


@handler("expand_as", "broadcast_to_as")
def _expand_as(ctx, x, other):
    other = tensor(other, "expand_as")
    return _expand_to(ctx, tensor(x, "expand_as"),
                      [-1 if d is None else ctx.origin.get(d, d) for d in other.dims], "expand_as")


# --- contractions ---------------------------------------------------------------------------

@handler("matmul", "mm", "bmm", "__matmul__")
def _matmul(ctx, a, b):
    a, b = tensor(a, "matmul"), tensor(b, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise TraceError("matmul of a 0-dimensional value: use *")
    # torch: a 1-D left operand is a row vector, a 1-D right operand a column vector,
    # and the added dimension is removed from the result.
    av = a if a.ndim > 1 else TV(a.term, (None,) + a.dims, a.kind)
    bv = b if b.ndim > 1 else TV(b.term, b.dims + (None,), b.kind)
    ka, kb = av.dims[-1], bv.dims[-2]
    if ka != kb and ka is not None and kb is not None:
        raise AxisSpecError(f"matmul contracts axis {ka} of the left operand with axis {kb} "
                            "of the right one; give them one name in the axis spec if they "
                            "are the same dimension")
    k = ka or kb
    if k is not None and (ka is None or kb is None):
        raise AxisSpecError(f"matmul contracts axis {k} with a size-1 dimension")
    # left: (..., n, 1)   right: (..., 1, p); their product, summed over k: (..., n, p).
    # k is kept out of the broadcast (it has no position there), so it never meets the others.
    l_dims = av.dims[:-1] + (None,)
    r_dims = bv.dims[:-2] + (None, bv.dims[-1])
    if k is not None and k in l_dims + r_dims:
        raise AxisSpecError(f"matmul: axis {k} is both contracted and kept; check the axis spec")
    dims, renames = align_dims(ctx, [l_dims, r_dims], avoid=av.term.axes + bv.term.axes)
    terms = [av.term, bv.term]
    for i, rs in enumerate(renames):
        for old, new in rs:
            terms[i] = Rename(old, new, terms[i])
    t = Elem("mul", tuple(terms))
    if k is not None:
        t = Reduce("sum", k, t)
    if a.ndim == 1:
        dims = dims[:-2] + dims[-1:]
    if b.ndim == 1:
        dims = dims[:-1]
    return TV(t, tuple(dims), "float")


@handler("einsum")
def _einsum(ctx, equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    ops = [tensor(o, "einsum") for o in operands]
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ops):
        raise TraceError(f"einsum: {equation!r} names {len(terms)} operands, got {len(ops)}")
    letters: dict[str, str | None] = {}
    subs = []
    ell_len = max((o.ndim - (len(s) - 3) for s, o in zip(terms, ops) if "..." in s), default=0)
    for s, o in zip(terms, ops):
        if "..." in s:
            pre, post = s.split("...")
            k = o.ndim - len(pre) - len(post)
            # ellipsis dims get letters E0.. aligned from the right across operands
            ell = [f"#{ell_len - k + i}" for i in range(k)]
            letts = list(pre) + ell + list(post)
        else:
            letts = list(s)
        if len(letts) != o.ndim:
            raise AxisSpecError(f"einsum: {s!r} names {len(letts)} dimensions but the operand "
                                f"has {o.ndim} {o.describe()}")
        if len(set(letts)) != len(letts):
            raise TraceError(f"einsum: repeated index in {s!r} (a diagonal) is not supported")
        subs.append(letts)
        for L, d in zip(letts, o.dims):
            if d is None:
                letters.setdefault(L, None)
            elif letters.get(L) not in (None, d):
                raise AxisSpecError(f"einsum: index {L} is axis {letters[L]} in one operand "
                                    f"and {d} in another; give them one name in the axis spec")
            else:
                letters[L] = d
    # the same axis name on two letters: rename it in the operands of the later letter
    owner: dict[str, str] = {}
    for L in sorted(letters, key=lambda L: (L.startswith("#"), L)):
        name = letters[L]
        if name is None:
            continue
        if name in owner and owner[name] != L:
            new = ctx.fresh(name, {a for o in ops for a in o.term.axes} | set(owner))
            for i, (s, o) in enumerate(zip(subs, ops)):
                if L in s:
                    ops[i] = rename(o, name, new)
            letters[L] = new
            name = new
        owner[name] = L
    ell_letters = sorted({L for s in subs for L in s if L.startswith("#")})
    if arrow:
        if "..." in rhs:
            pre, post = rhs.split("...")
            out = list(pre) + ell_letters + list(post)
        else:
            out = list(rhs)
    else:
        counts = {}
        for s in subs:
            for L in s:
                counts[L] = counts.get(L, 0) + 1
        out = ell_letters + sorted(L for L, c in counts.items() if c == 1 and not L.startswith("#"))
    for L in out:
        if L not in letters:
            raise TraceError(f"einsum: output index {L} does not appear in the inputs")
    t = ops[0].term if len(ops) == 1 else Elem("mul", tuple(o.term for o in ops))
    for L in letters:
        if L not in out and letters[L] is not None:
            t = Reduce("sum", letters[L], t)
    return TV(t, tuple(letters[L] for L in out), "float")


# --- shapes ---------------------------------------------------------------------------------

def shape_of(ctx, x: TV) -> tuple:
    """x.shape: Size terms for named axes, 1 for unnamed size-1 dimensions."""
    return tuple(TV(ctx.size(d), (), "int") if d is not None else 1 for d in x.dims)


@handler("size")
def _size(ctx, x, dim=None):
    x = tensor(x, "size")
    s = shape_of(ctx, x)
    return s if dim is None else s[norm_dim(x, dim)]


@handler("dim", "ndimension")
def _ndim(ctx, x):
    return tensor(x, "dim").ndim


@handler("numel")
def _numel(ctx, x):
    x = tensor(x, "numel")
    n = reduced_size(ctx, x, list(range(x.ndim)))
    return 1 if n is None else TV(n, (), "int")
