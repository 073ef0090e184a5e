"""The tracer's op table: each torch operation as a term over named axes.

Every handler takes `(ctx, args, kwargs)` (tensors already as `TV`s) and returns a `TV`, a tuple,
or a Python value.  The forms follow torch's semantics exactly (docs/theory.md §1):

    softmax_j(x)     = exp(x − max_j x) / Σ_j exp(x − max_j x)
    log_softmax_j(x) = x − max_j x − log Σ_j exp(x − max_j x)
    logsumexp_j(x)   = max_j x + log Σ_j exp(x − max_j x)
    mean_j(x)        = Σ_j x / |j|
    var_j(x)         = Σ_j (x − mean_j x)² / (|j| − correction)      (correction 1 by default)
    ‖x‖_p            = (Σ_j |x|^p)^(1/p);  p=2: √Σ x²;  p=1: Σ|x|;  p=∞: max|x|;  p=0: Σ [x≠0]
    normalize(x)     = x / max(‖x‖_p, eps)
    (layout, contractions and sizes: rewrite/trace/shapes.py; sort and friends:
     rewrite/trace/order.py; the handler table: rewrite/trace/registry.py)

Sizes stay symbolic (`Size(axis)`); a reduction over a size-1 dimension without a name is the
identity (and counts 1).
"""
from __future__ import annotations

import math
import operator

from wirefuse.rewrite.errors import TraceError
from wirefuse.rewrite.ir.ops import SCALAR_OPS
from wirefuse.rewrite.ir.term import Const, Elem, Reduce, Term
from wirefuse.rewrite.trace.registry import (HANDLERS, handler, is_py, kind_of_dtype, reduced_size,
                                             tensor)
from wirefuse.rewrite.trace.values import (TV, Context, DTypeOf, Multi, TopKValues, Unusable, align,
                                           norm_dim, norm_dims, scalar, unsupported_topk)


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
    from wirefuse.rewrite.ir.term import Input
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


@handler("elu", spec="input, alpha=1.0, inplace=False")
def _elu(ctx, input, alpha, inplace):
    """elu(x) = x where x > 0, else α·(eᵡ − 1)."""
    x = tensor(input, "elu")
    neg = elem(ctx, "expm1", x)
    if alpha != 1.0:
        neg = elem(ctx, "mul", neg, alpha)
    return elem(ctx, "where", elem(ctx, "gt", x, 0.0), x, neg)


@handler("leaky_relu", spec="input, negative_slope=0.01, inplace=False")
def _leaky_relu(ctx, input, negative_slope, inplace):
    x = tensor(input, "leaky_relu")
    return elem(ctx, "where", elem(ctx, "gt", x, 0.0), x, elem(ctx, "mul", x, negative_slope))


@handler("silu", spec="input, inplace=False")
def _silu(ctx, input, inplace):
    x = tensor(input, "silu")
    return elem(ctx, "mul", x, elem(ctx, "sigmoid", x))


@handler("isnan")
def _isnan(ctx, x):
    x = tensor(x, "isnan")
    return elem(ctx, "ne", x, x)


@handler("isinf")
def _isinf(ctx, x):
    return elem(ctx, "eq", elem(ctx, "abs", tensor(x, "isinf")), float("inf"))


@handler("isfinite")
def _isfinite(ctx, x):
    return elem(ctx, "lt", elem(ctx, "abs", tensor(x, "isfinite")), float("inf"))


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


for _name, _kind in [("float", "float"), ("double", "float"), ("half", "float"),
                     ("bfloat16", "float"), ("bool", "bool"), ("long", "int"), ("int", "int")]:
    HANDLERS[_name] = (lambda k, n: lambda ctx, args, kw: _cast(ctx, args[0], k, n))(_kind, _name)


@handler("to", "type")
def _to(ctx, x, *args, **kwargs):
    dt = kwargs.get("dtype")
    for a in args:
        if kind_of_dtype(a) is not None:
            dt = a
        elif isinstance(a, TV):
            dt = DTypeOf(a.kind)
    kind = kind_of_dtype(dt)
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


@handler("sum", "nansum", spec="input, dim=None, keepdim=False, *, dtype=None")
def _sum(ctx, input, dim, keepdim, dtype):
    x = tensor(input, "sum")
    r = _reduce("sum", x, norm_dims(x, dim), keepdim)
    return TV(r.term, r.dims, "int" if x.kind in ("bool", "int") else "float")


def _any_all(monoid):
    def h(ctx, input, dim=None, keepdim=False):
        """any = max of the 0/1 values > 0; all = min of them > 0."""
        x = tensor(input, "any/all")
        b = x if x.kind == "bool" else elem(ctx, "ne", x, 0.0)
        r = _reduce(monoid, b, norm_dims(b, dim), keepdim, body=Elem("float", (b.term,)))
        return TV(Elem("gt", (r.term, Const(0.5))), r.dims, "bool")
    return lambda ctx, args, kw: h(ctx, *args, **kw)


HANDLERS["any"] = _any_all("max")
HANDLERS["all"] = _any_all("min")


@handler("prod", spec="input, dim=None, keepdim=False, *, dtype=None")
def _prod(ctx, input, dim, keepdim, dtype):
    x = tensor(input, "prod")
    return _reduce("prod", x, norm_dims(x, dim), keepdim)


@handler("mean", spec="input, dim=None, keepdim=False, *, dtype=None")
def _mean(ctx, input, dim, keepdim, dtype):
    x = tensor(input, "mean")
    pos = norm_dims(x, dim)
    r = _reduce("sum", x, pos, keepdim)
    n = reduced_size(ctx, x, pos)
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
    n = reduced_size(ctx, x, pos) or Const(1.0)
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


UNSUPPORTED_HINTS = {
    "view": "reshaping merges or splits axes, which named axes cannot follow",
    "reshape": "reshaping merges or splits axes, which named axes cannot follow",
    "flatten": "reshaping merges or splits axes, which named axes cannot follow",
    "scaled_dot_product_attention": "write the attention out (softmax(q @ k.mT * scale) @ v)",
}

SUPPORTED_SUMMARY = ("arithmetic and comparisons, @/matmul/einsum, transpose/permute/mT/unsqueeze/"
                     "expand, softmax/log_softmax/logsumexp, sum/mean/max/min/amax/amin/prod/var/"
                     "std/norm/normalize, exp/log/sqrt/rsqrt/pow/tanh/sigmoid/relu/abs/clamp/"
                     "elu/silu/leaky_relu, where/masked_fill, any/all/isinf/isnan, "
                     "ones/zeros/full/arange/tril/triu over axis sizes, "
                     "sort/median/quantile/cumsum/gather/topk (one entry); see "
                     "wirefuse.rewrite.trace.ops.HANDLERS")


__all__ = ["SUPPORTED_SUMMARY", "UNSUPPORTED_HINTS"]
