"""The tracer's op table: each torch operation as a term over named axes.

Every handler takes `(ctx, args, kwargs)` (tensors already as `TV`s) and returns a `TV`, a tuple,
or a Python value.  The forms follow torch's semantics exactly (THEORY.md §1):

    softmax_j(x)     = exp(x − max_j x) / Σ_j exp(x − max_j x)
    log_softmax_j(x) = x − max_j x − log Σ_j exp(x − max_j x)
    logsumexp_j(x)   = max_j x + log Σ_j exp(x − max_j x)
    mean_j(x)        = Σ_j x / |j|
    var_j(x)         = Σ_j (x − mean_j x)² / (|j| − correction)      (correction 1 by default)
    ‖x‖_p            = (Σ_j |x|^p)^(1/p);  p=2: √Σ x²;  p=1: Σ|x|;  p=∞: max|x|;  p=0: Σ [x≠0]
    normalize(x)     = x / max(‖x‖_p, eps)
    sort descending  = −sort(−x)

Sizes stay symbolic (`Size(axis)`); a reduction over a size-1 dimension without a name is the
identity (and counts 1).
"""
from __future__ import annotations

import math
import operator

import sympy
import torch

from ..errors import AxisSpecError, TraceError
from .ops import SCALAR_OPS
from .term import Broadcast, Const, Elem, Opaque, Reduce, Rename, Size, Term
from .trace_values import (TV, Context, Multi, Unusable, align, align_dims, norm_dim,
                           norm_dims, rename, scalar)

HANDLERS: dict = {}


def handler(*names, spec=None):
    """Register a handler under torch names (function, method and operator names alike)."""
    params = _parse_spec(spec) if spec else None

    def deco(fn):
        def run(ctx, args, kwargs):
            if params is None:
                return fn(ctx, *args, **kwargs)
            return fn(ctx, **_bind(names[0], params, args, kwargs))
        run.__name__ = fn.__name__
        for n in names:
            HANDLERS[n] = run
        return fn
    return deco


def _parse_spec(spec: str):
    out = []
    kwonly = False
    for p in (s.strip() for s in spec.split(",")):
        if p == "*":
            kwonly = True
            continue
        name, eq, default = p.partition("=")
        out.append((name, eval(default) if eq else _REQUIRED, kwonly))
    return out


_REQUIRED = object()


def _bind(op, params, args, kwargs):
    pos = [p for p in params if not p[2]]
    if len(args) > len(pos):
        raise TraceError(f"{op}: too many positional arguments")
    bound = {p[0]: a for p, a in zip(pos, args)}
    for k, v in kwargs.items():
        if k not in [p[0] for p in params]:
            raise TraceError(f"{op}: argument {k}= is not supported by the tracer")
        bound[k] = v
    for name, default, _ in params:
        if name not in bound:
            if default is _REQUIRED:
                raise TraceError(f"{op}: missing argument {name}")
            bound[name] = default
    return bound


def tensor(x, op: str) -> TV:
    if isinstance(x, TV):
        return x
    if type(x).__name__ == "TopKValues":
        raise unsupported_topk(x)
    if isinstance(x, Unusable):
        raise TraceError(f"{op}: uses {x.what}, which the tracer does not support")
    raise TraceError(f"{op}: expected a tensor, got {type(x).__name__}")


def is_py(x) -> bool:
    return isinstance(x, (bool, int, float))


# --- elementwise ----------------------------------------------------------------------------

_KIND_RANK = {"bool": 0, "int": 1, "float": 2}


def elem(ctx: Context, op: str, *xs, kind: str | None = None) -> TV:
    vals, dims = align(ctx, list(xs))
    if kind is None:
        if SCALAR_OPS[op].result == "bool":
            kind = "bool"
        else:
            kind = max((v.kind for v in vals), key=_KIND_RANK.get)
            if op not in ("add", "mul", "sub", "neg", "max", "min", "abs", "where", "square"):
                kind = "float"
            elif kind == "bool":
                kind = "int"
    return TV(Elem(op, tuple(v.term for v in vals)), dims, kind)


def _want_bool(ctx: Context, v, op: str) -> TV:
    """Use v as a boolean: an input used so is an input of dtype bool (the tracer re-runs)."""
    v = scalar(v)
    if v.kind == "bool":
        return v
    from .term import Input
    if isinstance(v.term, Input):
        raise _Retry(v.term.name)
    raise TraceError(f"{op} needs a boolean tensor (a comparison or a bool input)")


class _Retry(Exception):
    """Raised when an input turns out to be boolean: trace again with its dtype fixed."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def _arith(op, pyop):
    def h(ctx, a, b):
        if is_py(a) and is_py(b):
            return pyop(a, b)
        a, b = scalar(a), scalar(b)
        if a.kind == "bool" and b.kind == "bool":
            if op == "add":
                return elem(ctx, "or", a, b)
            if op == "mul":
                return elem(ctx, "and", a, b)
            raise TraceError(f"{op} of two boolean tensors is not defined in torch")
        return elem(ctx, op, a, b)
    return h


for _name, _op, _py in [("add", "add", operator.add), ("sub", "sub", operator.sub),
                        ("mul", "mul", operator.mul), ("truediv", "div", operator.truediv),
                        ("div", "div", operator.truediv), ("pow", "pow", operator.pow),
                        ("maximum", "max", max), ("minimum", "min", min),
                        ("lt", "lt", operator.lt), ("le", "le", operator.le),
                        ("gt", "gt", operator.gt), ("ge", "ge", operator.ge),
                        ("eq", "eq", operator.eq), ("ne", "ne", operator.ne)]:
    HANDLERS[_name] = (lambda h: lambda ctx, args, kw: h(ctx, *args, **kw))(_arith(_op, _py))
for _alias, _name in [("multiply", "mul"), ("subtract", "sub"), ("divide", "truediv"),
                      ("true_divide", "truediv"), ("greater", "gt"), ("less", "lt"),
                      ("greater_equal", "ge"), ("less_equal", "le"), ("not_equal", "ne"),
                      ("float_power", "pow"), ("fmax", "maximum"), ("fmin", "minimum")]:
    HANDLERS[_alias] = HANDLERS[_name]


@handler("rsub")
def _rsub(ctx, a, b):
    return HANDLERS["sub"](ctx, (b, a), {})


@handler("radd")
def _radd(ctx, a, b):
    return HANDLERS["add"](ctx, (b, a), {})


@handler("rmul")
def _rmul(ctx, a, b):
    return HANDLERS["mul"](ctx, (b, a), {})


@handler("rtruediv")
def _rtruediv(ctx, a, b):
    return HANDLERS["truediv"](ctx, (b, a), {})


@handler("rpow")
def _rpow(ctx, a, b):
    return HANDLERS["pow"](ctx, (b, a), {})


@handler("floordiv", "mod", "floor_divide", "remainder", "fmod")
def _floordiv(ctx, a, b):
    if is_py(a) and is_py(b):
        return a // b
    raise TraceError("integer division and remainder (//, %) are not supported by the tracer")


def _unary(op):
    def h(ctx, x, **kw):
        kw.pop("inplace", None)
        if kw:
            raise TraceError(f"{op}: arguments {', '.join(kw)} are not supported")
        if is_py(x):
            raise TraceError(f"{op} of a Python number: use the math module outside the trace")
        return elem(ctx, op, tensor(x, op))
    return h


for _name in ["exp", "log", "sqrt", "rsqrt", "square", "tanh", "sigmoid", "relu", "abs", "neg",
              "log1p", "expm1", "sin", "cos"]:
    HANDLERS[_name] = (lambda h: lambda ctx, args, kw: h(ctx, *args, **kw))(_unary(_name))
for _alias, _name in [("negative", "neg"), ("absolute", "abs"), ("expit", "sigmoid")]:
    HANDLERS[_alias] = HANDLERS[_name]


@handler("pos")
def _pos(ctx, x):
    return x


@handler("reciprocal")
def _reciprocal(ctx, x):
    return elem(ctx, "div", 1.0, tensor(x, "reciprocal"))


@handler("clamp", "clip", spec="input, min=None, max=None")
def _clamp(ctx, input, min, max):
    x = tensor(input, "clamp")
    if min is None and max is None:
        raise TraceError("clamp needs min or max")
    if min is not None:
        x = elem(ctx, "max", x, min)
    if max is not None:
        x = elem(ctx, "min", x, max)
    return x


@handler("clamp_min", spec="input, min")
def _clamp_min(ctx, input, min):
    return elem(ctx, "max", tensor(input, "clamp_min"), min)


@handler("clamp_max", spec="input, max")
def _clamp_max(ctx, input, max):
    return elem(ctx, "min", tensor(input, "clamp_max"), max)


@handler("where", spec="condition, input=None, other=None")
def _where(ctx, condition, input, other):
    if input is None or other is None:
        raise TraceError("torch.where(condition) (the index form) is not supported; "
                         "use torch.where(condition, x, y)")
    return elem(ctx, "where", _want_bool(ctx, condition, "where"), input, other)


@handler("masked_fill", spec="input, mask, value")
def _masked_fill(ctx, input, mask, value):
    x = tensor(input, "masked_fill")
    return elem(ctx, "where", _want_bool(ctx, mask, "masked_fill"), value, x, kind=x.kind)


def _logic(op, pyop):
    def h(ctx, a, b):
        if is_py(a) and is_py(b):
            return pyop(a, b)
        return elem(ctx, op, _want_bool(ctx, a, op), _want_bool(ctx, b, op))
    return lambda ctx, args, kw: h(ctx, *args, **kw)


HANDLERS["and_"] = HANDLERS["logical_and"] = HANDLERS["bitwise_and"] = _logic("and",
                                                                               operator.and_)
HANDLERS["or_"] = HANDLERS["logical_or"] = HANDLERS["bitwise_or"] = _logic("or", operator.or_)


@handler("invert", "logical_not", "bitwise_not")
def _not(ctx, x):
    if is_py(x):
        return not x if isinstance(x, bool) else ~x
    return elem(ctx, "not", _want_bool(ctx, x, "~ (logical not)"))


# --- casts: values are computed in float64; float precision casts are the identity ---------

def _cast(ctx, x, kind: str, op: str):
    x = tensor(x, op)
    if kind == x.kind:
        return x
    if kind == "float":
        return TV(Elem("float", (x.term,)), x.dims, "float") if x.kind == "bool" \
            else TV(x.term, x.dims, "float")
    if kind == "bool":
        return elem(ctx, "ne", x, 0.0)
    if x.kind == "bool":  # bool -> int: 0/1
        return TV(Elem("float", (x.term,)), x.dims, "int")
    raise TraceError(f"{op}: casting floats to integers (truncation) is not supported")


def _kind_of_dtype(d):
    if isinstance(d, torch.dtype):
        if d == torch.bool:
            return "bool"
        return "float" if d.is_floating_point else "int"
    if isinstance(d, DTypeOf):
        return d.kind
    return None


class DTypeOf:
    """`x.dtype` seen by the tracer: only its kind matters."""

    def __init__(self, kind):
        self.kind = kind


for _name, _kind in [("float", "float"), ("double", "float"), ("half", "float"),
                     ("bfloat16", "float"), ("bool", "bool"), ("long", "int"), ("int", "int")]:
    HANDLERS[_name] = (lambda k, n: lambda ctx, args, kw: _cast(ctx, args[0], k, n))(_kind, _name)


@handler("to", "type")
def _to(ctx, x, *args, **kwargs):
    dt = kwargs.get("dtype")
    for a in args:
        if _kind_of_dtype(a) is not None:
            dt = a
        elif isinstance(a, TV):
            dt = DTypeOf(a.kind)
    kind = _kind_of_dtype(dt)
    return tensor(x, "to") if kind is None else _cast(ctx, x, kind, "to")


@handler("type_as")
def _type_as(ctx, x, other):
    return _cast(ctx, x, tensor(other, "type_as").kind, "type_as")


@handler("contiguous", "clone", "detach", "cpu", "cuda", "requires_grad_")
def _identity(ctx, x, *args, **kwargs):
    return tensor(x, "identity")


# --- reductions -----------------------------------------------------------------------------

def _reduce(monoid: str, x: TV, pos: list[int], keepdim: bool, body: Term | None = None) -> TV:
    t = x.term if body is None else body
    for p in pos:
        if x.dims[p] is not None:
            t = Reduce(monoid, x.dims[p], t)
    dims = tuple(None if p in pos else d for p, d in enumerate(x.dims)) if keepdim \
        else tuple(d for p, d in enumerate(x.dims) if p not in pos)
    return TV(t, dims, "float" if monoid != "max" and monoid != "min" else x.kind)


def _count(ctx: Context, x: TV, pos: list[int]) -> Term | None:
    """|reduced axes| as a term (None when all reduced dimensions are unnamed size-1)."""
    sizes = [ctx.size(x.dims[p]) for p in pos if x.dims[p] is not None]
    if not sizes:
        return None
    return sizes[0] if len(sizes) == 1 else Elem("mul", tuple(sizes))


@handler("sum", "nansum", spec="input, dim=None, keepdim=False, *, dtype=None")
def _sum(ctx, input, dim, keepdim, dtype):
    x = tensor(input, "sum")
    r = _reduce("sum", x, norm_dims(x, dim), keepdim)
    return TV(r.term, r.dims, "int" if x.kind in ("bool", "int") else "float")


@handler("prod", spec="input, dim=None, keepdim=False, *, dtype=None")
def _prod(ctx, input, dim, keepdim, dtype):
    x = tensor(input, "prod")
    return _reduce("prod", x, norm_dims(x, dim), keepdim)


@handler("mean", spec="input, dim=None, keepdim=False, *, dtype=None")
def _mean(ctx, input, dim, keepdim, dtype):
    x = tensor(input, "mean")
    pos = norm_dims(x, dim)
    r = _reduce("sum", x, pos, keepdim)
    n = _count(ctx, x, pos)
    return r if n is None else TV(Elem("div", (r.term, n)), r.dims, "float")


def _topk_reduce(monoid, args, kwargs, multi):
    """vals.min(dim) is the k-th largest, vals.max(dim) the largest (for largest=True)."""
    tk = args[0]
    dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
    keepdim = kwargs.get("keepdim", args[2] if len(args) > 2 else False)
    if dim is None or norm_dim(tk.x, dim) != tk.p:
        raise unsupported_topk(tk)
    last = (monoid == "min") == tk.largest  # the k-th entry is the extreme asked for
    v = tk.entry(tk.k - 1 if last else 0, keepdim)
    return Multi((v, Unusable(f"the indices of {monoid}(dim)"))) if multi else v


@handler("amax", spec="input, dim=(), keepdim=False")
def _amax(ctx, input, dim, keepdim):
    if isinstance(input, TopKValues):
        return _topk_reduce("max", (input, dim, keepdim), {}, multi=False)
    x = tensor(input, "amax")
    return _reduce("max", x, norm_dims(x, dim), keepdim)


@handler("amin", spec="input, dim=(), keepdim=False")
def _amin(ctx, input, dim, keepdim):
    if isinstance(input, TopKValues):
        return _topk_reduce("min", (input, dim, keepdim), {}, multi=False)
    x = tensor(input, "amin")
    return _reduce("min", x, norm_dims(x, dim), keepdim)


def _maxmin(monoid, elemop):
    def h(ctx, args, kwargs):
        args = list(args)
        if args and isinstance(args[0], TopKValues):
            return _topk_reduce(monoid, args, kwargs, multi=True)
        x = tensor(args.pop(0) if args else kwargs.pop("input"), monoid)
        other = kwargs.pop("other", None)
        dim = kwargs.pop("dim", None)
        keepdim = kwargs.pop("keepdim", False)
        if args and isinstance(args[0], TV):
            other = args.pop(0)
        if args:
            dim = args.pop(0)
        if args:
            keepdim = args.pop(0)
        if kwargs or args:
            raise TraceError(f"{monoid}: unsupported arguments")
        if other is not None:
            return elem(ctx, elemop, x, other)
        if dim is None:
            return _reduce(monoid, x, norm_dims(x, None), False)
        values = _reduce(monoid, x, [norm_dim(x, dim)], keepdim)
        return Multi((values, Unusable(f"the indices of {monoid}(dim) (arg{monoid})")))
    return h


HANDLERS["max"] = _maxmin("max", "max")
HANDLERS["min"] = _maxmin("min", "min")


def _correction(unbiased, correction) -> float:
    if correction is not None:
        return float(correction)
    if unbiased is None:
        return 1.0
    return 1.0 if unbiased else 0.0


def _var(ctx, x: TV, dim, unbiased, keepdim, correction) -> TV:
    if isinstance(dim, bool):  # torch.var(x, unbiased)
        dim, unbiased = None, dim
    pos = norm_dims(x, dim)
    mean = _mean(ctx, x, pos, True, None)
    dev = elem(ctx, "sub", x, mean)
    ss = _reduce("sum", dev, pos, keepdim, body=Elem("square", (dev.term,)))
    n = _count(ctx, x, pos) or Const(1.0)
    c = _correction(unbiased, correction)
    denom = n if c == 0 else Elem("sub", (n, Const(c)))
    return TV(Elem("div", (ss.term, denom)), ss.dims, "float")


@handler("var", spec="input, dim=None, unbiased=None, keepdim=False, *, correction=None")
def _var_h(ctx, input, dim, unbiased, keepdim, correction):
    return _var(ctx, tensor(input, "var"), dim, unbiased, keepdim, correction)


@handler("std", spec="input, dim=None, unbiased=None, keepdim=False, *, correction=None")
def _std(ctx, input, dim, unbiased, keepdim, correction):
    v = _var(ctx, tensor(input, "std"), dim, unbiased, keepdim, correction)
    return TV(Elem("sqrt", (v.term,)), v.dims, "float")


def _shifted(ctx, x: TV, pos):
    """(m, x − m, Σ exp(x − m)) with m = max over pos, kept for broadcasting back by name."""
    m = _reduce("max", x, pos, True)
    e = elem(ctx, "exp", elem(ctx, "sub", x, m))
    z = _reduce("sum", e, pos, True)
    return m, e, z


def _dim_required(op, dim):
    if dim is None:
        raise TraceError(f"{op} needs dim= (the implicit-dim form is deprecated in torch)")


@handler("softmax", spec="input, dim=None, _stacklevel=3, dtype=None")
def _softmax(ctx, input, dim, _stacklevel, dtype):
    _dim_required("softmax", dim)
    x = tensor(input, "softmax")
    m, e, z = _shifted(ctx, x, [norm_dim(x, dim)])
    return TV(Elem("div", (e.term, z.term)), x.dims, "float")


@handler("log_softmax", spec="input, dim=None, _stacklevel=3, dtype=None")
def _log_softmax(ctx, input, dim, _stacklevel, dtype):
    _dim_required("log_softmax", dim)
    x = tensor(input, "log_softmax")
    m, e, z = _shifted(ctx, x, [norm_dim(x, dim)])
    return TV(Elem("sub", (Elem("sub", (x.term, m.term)), Elem("log", (z.term,)))), x.dims,
              "float")


@handler("logsumexp", spec="input, dim, keepdim=False")
def _logsumexp(ctx, input, dim, keepdim):
    x = tensor(input, "logsumexp")
    pos = norm_dims(x, dim)
    m, e, z = _shifted(ctx, x, pos)
    r = _reduce("max", x, pos, keepdim)  # for the result's dims
    return TV(Elem("add", (m.term, Elem("log", (z.term,)))), r.dims, "float")


def _pnorm(ctx, x: TV, p, pos, keepdim) -> TV:
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str) or isinstance(p, TV):
        raise TraceError(f"norm: p={p!r} is not supported (vector norms only: a number or inf)")
    p = float(p)
    if p == math.inf:
        return _reduce("max", x, pos, keepdim, body=Elem("abs", (x.term,)))
    if p == -math.inf:
        return _reduce("min", x, pos, keepdim, body=Elem("abs", (x.term,)))
    if p == 0:
        r = _reduce("sum", x, pos, keepdim, body=Elem("float", (Elem("ne", (x.term, Const(0.0))),)))
        return r
    if p == 1:
        return _reduce("sum", x, pos, keepdim, body=Elem("abs", (x.term,)))
    if p == 2:
        r = _reduce("sum", x, pos, keepdim, body=Elem("square", (x.term,)))
        return TV(Elem("sqrt", (r.term,)), r.dims, "float")
    r = _reduce("sum", x, pos, keepdim, body=Elem("pow", (Elem("abs", (x.term,)), Const(p))))
    return TV(Elem("pow", (r.term, Const(1.0 / p))), r.dims, "float")


@handler("norm", spec="input, p='fro', dim=None, keepdim=False, out=None, dtype=None")
def _norm(ctx, input, p, dim, keepdim, out, dtype):
    x = tensor(input, "norm")
    return _pnorm(ctx, x, p, norm_dims(x, dim), keepdim)


@handler("vector_norm", spec="x, ord=2, dim=None, keepdim=False, *, dtype=None")
def _vector_norm(ctx, x, ord, dim, keepdim, dtype):
    x = tensor(x, "vector_norm")
    return _pnorm(ctx, x, ord, norm_dims(x, dim), keepdim)


@handler("linalg_norm", spec="A, ord=None, dim=None, keepdim=False, *, dtype=None")
def _linalg_norm(ctx, A, ord, dim, keepdim, dtype):
    x = tensor(A, "linalg.norm")
    if not (isinstance(dim, int) or (dim is None and x.ndim == 1 and ord is not None)
            or (dim is None and ord is None)):
        raise TraceError("torch.linalg.norm: matrix norms are not supported; use "
                         "torch.linalg.vector_norm or give one dim")
    return _pnorm(ctx, x, 2 if ord is None else ord, norm_dims(x, dim), keepdim)


@handler("normalize", spec="input, p=2.0, dim=1, eps=1e-12, out=None")
def _normalize(ctx, input, p, dim, eps, out):
    x = tensor(input, "normalize")
    n = _pnorm(ctx, x, p, [norm_dim(x, dim)], True)
    return elem(ctx, "div", x, elem(ctx, "max", n, eps), kind="float")


# --- order statistics and other non-monoid reductions: Opaque nodes ------------------------

def _opaque(op, x: TV, p: int, args=(), params=()) -> Term:
    return Opaque(op, x.dims[p], (x.term,) + tuple(args), params)


@handler("sort", spec="input, dim=-1, descending=False, stable=False")
def _sort(ctx, input, dim, descending, stable):
    x = tensor(input, "sort")
    p = norm_dim(x, dim)
    idx = Unusable("the indices of sort (argsort)")
    if x.dims[p] is None:
        return Multi((x, idx))
    if descending:  # sort descending = −sort(−x)
        t = Elem("neg", (Opaque("sort", x.dims[p], (Elem("neg", (x.term,)),), ()),))
    else:
        t = _opaque("sort", x, p)
    return Multi((TV(t, x.dims, x.kind), idx))


def _order_stat(op, x: TV, p: int, keepdim: bool, params=()) -> TV:
    dims = tuple(None if k == p else d for k, d in enumerate(x.dims)) if keepdim \
        else tuple(d for k, d in enumerate(x.dims) if k != p)
    if x.dims[p] is None:
        return TV(x.term, dims, "float")
    return TV(_opaque(op, x, p, params=params), dims, "float")


@handler("median", "nanmedian", spec="input, dim=None, keepdim=False")
def _median(ctx, input, dim, keepdim):
    x = tensor(input, "median")
    if dim is None:
        raise TraceError("median without dim (of all elements) is not supported; give dim=")
    values = _order_stat("median", x, norm_dim(x, dim), keepdim)
    return Multi((values, Unusable("the indices of median")))


@handler("quantile", "nanquantile", spec="input, q, dim=None, keepdim=False, *, "
         "interpolation='linear', out=None")
def _quantile(ctx, input, q, dim, keepdim, interpolation, out):
    x = tensor(input, "quantile")
    if not isinstance(q, (int, float)) or isinstance(q, bool):
        raise TraceError("quantile: q must be one Python number")
    if dim is None or interpolation != "linear":
        raise TraceError("quantile: give dim=, with the default linear interpolation")
    return _order_stat("quantile", x, norm_dim(x, dim), keepdim, params=(float(q),))


@handler("cumsum", spec="input, dim, *, dtype=None")
def _cumsum(ctx, input, dim, dtype):
    x = tensor(input, "cumsum")
    p = norm_dim(x, dim)
    if x.dims[p] is None:
        return x
    return TV(_opaque("cumsum", x, p), x.dims, "float" if x.kind == "float" else "int")


@handler("gather", spec="input, dim, index, *, sparse_grad=False")
def _gather(ctx, input, dim, index, sparse_grad):
    x, idx = tensor(input, "gather"), tensor(index, "gather")
    p = norm_dim(x, dim)
    if idx.ndim != x.ndim:
        raise TraceError("gather: index must have as many dimensions as the input")
    for k, (a, b) in enumerate(zip(x.dims, idx.dims)):
        if k != p and a != b:
            raise TraceError(f"gather: index dimension {k} ({b or 1}) must match the input's "
                             f"({a or 1}) for the tracer")
    if x.dims[p] is None:
        raise TraceError("gather along a size-1 dimension is not supported")
    if idx.dims[p] not in (None, x.dims[p]):
        raise TraceError(f"gather: the index runs over axis {idx.dims[p]} where the input has "
                         f"{x.dims[p]}; only an index over the same axis or of size 1 is supported")
    t = Opaque("gather", x.dims[p], (x.term, idx.term), ())
    if idx.dims[p] is None:
        # one index per row: the gathered value is the same at every position of the axis,
        # so folding the axis with max picks it (and drops the axis, as torch's size 1 does).
        t = Reduce("max", x.dims[p], t)
    return TV(t, idx.dims, x.kind)


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


@handler("topk", spec="input, k, dim=-1, largest=True, sorted=True")
def _topk(ctx, input, k, dim, largest, sorted):
    x = tensor(input, "topk")
    if not isinstance(k, int) or isinstance(k, bool):
        raise TraceError("topk: k must be a Python int")
    return Multi((TopKValues(x, norm_dim(x, dim), k, largest),
                  Unusable("the indices of topk")))


@handler("arange")
def _arange(ctx, *args, **kwargs):
    """arange(start, end) over an axis whose size is end − start: start − 1 + cumsum(1)."""
    kind = _kind_of_dtype(kwargs.pop("dtype", None))
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
    ones = Broadcast(name, Const(1.0))
    t = Opaque("cumsum", name, (ones,), ())  # 1, 2, ..., |axis|
    if is_py(start):
        if start != 1:
            t = Elem("add", (Const(float(start) - 1.0), t))
    else:
        t = Elem("add", (Elem("sub", (scalar(start).term, Const(1.0))), t))
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
    kind = _kind_of_dtype(dtype) or ("bool" if isinstance(value, bool) else
                                     (x.kind if op != "full_like" else "float"))
    t = Const(bool(value), "bool") if kind == "bool" else Const(float(value))
    for d in x.dims:
        if d is not None:
            t = Broadcast(d, t)
    return TV(t, x.dims, kind)


@handler("ones_like")
def _ones_like(ctx, x, dtype=None, **kw):
    return _const_like(ctx, tensor(x, "ones_like"), True if _kind_of_dtype(dtype) == "bool"
                       else 1, "ones_like", dtype)


@handler("zeros_like")
def _zeros_like(ctx, x, dtype=None, **kw):
    return _const_like(ctx, tensor(x, "zeros_like"), False if _kind_of_dtype(dtype) == "bool"
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
    kind = _kind_of_dtype(dtype) or ("bool" if isinstance(value, bool) else "float")
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
    """The index 0, 1, ... along dimension p, as a term: cumsum of ones, minus one."""
    if x.dims[p] is None:
        return Const(0.0)
    name = x.dims[p]
    origin = ctx.origin.get(name, name)
    t = Opaque("cumsum", origin, (Broadcast(origin, Const(1.0)),), ())
    if origin != name:
        t = Rename(origin, name, t)
    return Elem("sub", (t, Const(1.0)))


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
        return TV(x.term, tuple(d for d in x.dims if d is not None), x.kind)
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
    n = _count(ctx, x, list(range(x.ndim)))
    return 1 if n is None else TV(n, (), "int")


UNSUPPORTED_HINTS = {
    "view": "reshaping merges or splits axes, which named axes cannot follow",
    "reshape": "reshaping merges or splits axes, which named axes cannot follow",
    "flatten": "reshaping merges or splits axes, which named axes cannot follow",
    "scaled_dot_product_attention": "write the attention out (softmax(q @ k.mT * scale) @ v)",
}

SUPPORTED_SUMMARY = ("arithmetic and comparisons, @/matmul/einsum, transpose/permute/mT/unsqueeze/"
                     "expand, softmax/log_softmax/logsumexp, sum/mean/max/min/amax/amin/prod/var/"
                     "std/norm/normalize, exp/log/sqrt/rsqrt/pow/tanh/sigmoid/relu/abs/clamp/"
                     "where/masked_fill, ones/zeros/full/arange/tril/triu over axis sizes, "
                     "sort/median/quantile/cumsum/gather/topk (one entry); see "
                     "wirefuse.rewrite.trace_ops.HANDLERS")
