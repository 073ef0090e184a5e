"""The tracer's non-monoid reductions: sort, median, quantile, cumsum, gather, topk.

Each becomes an `Opaque` node (rewrite.ir.ops.OPAQUE_OPS), which the prover refuses by name.
Forms: sort descending = −sort(−x); the m-th entry of topk's values = the m-th entry of the
row sorted descending, a gather at a constant index (constant along the axis, so a max-fold over
the axis picks it out and drops the axis, as torch's size-1 index does).
"""
from __future__ import annotations

from wirefuse.rewrite.errors import TraceError
from wirefuse.rewrite.ir.term import Broadcast, Const, Elem, Opaque, Pos, Reduce, Rename, Term
from wirefuse.rewrite.trace.registry import handler, tensor
from wirefuse.rewrite.trace.values import TV, Multi, TopKValues, Unusable, norm_dim

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
    kind = "float" if x.kind == "float" else "int"
    counted = _cumsum_of_constant(x.term, x.dims[p])
    if counted is not None:
        return TV(counted, x.dims, kind)
    return TV(_opaque("cumsum", x, p), x.dims, kind)


def _cumsum_of_constant(t: Term, axis: str) -> Term | None:
    """cumsum along n of a value constant along n (c copied along n, as torch.ones(n) is):
    c · (#n + 1), the count of entries so far times c; None for anything else."""
    if isinstance(t, Rename) and t.new == axis:
        inner = _cumsum_of_constant(t.body, t.old)
        return None if inner is None else Rename(t.old, t.new, inner)
    if not (isinstance(t, Broadcast) and t.axis == axis):
        return None
    count = Elem("add", (Pos(axis), Const(1.0)))
    c = t.body
    if c.dtype == "bool":
        c = Elem("float", (c,))
    return count if isinstance(c, Const) and c.value == 1.0 else Elem("mul", (c, count))


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


@handler("topk", spec="input, k, dim=-1, largest=True, sorted=True")
def _topk(ctx, input, k, dim, largest, sorted):
    x = tensor(input, "topk")
    if not isinstance(k, int) or isinstance(k, bool):
        raise TraceError("topk: k must be a Python int")
    return Multi((TopKValues(x, norm_dim(x, dim), k, largest),
                  Unusable("the indices of topk")))
