"""The tracer's handler table, and the helpers that every handler family shares.

Each family module (rewrite/trace/ops.py: elementwise, reductions, norms; rewrite/trace/shapes.py:
layout, contractions, values built from sizes; rewrite/trace/order.py: sort and friends) registers
its handlers here with `@handler`, and rewrite/trace/tracer.py imports all three, so the table is
complete before the first trace.  This module imports none of them.

>>> @handler("demo_op", spec="input, dim=None, *, flag=False")
... def _demo(ctx, input, dim, flag):
...     return (input, dim, flag)
>>> HANDLERS.pop("demo_op")(None, (1,), {"flag": True})
(1, None, True)
"""
from __future__ import annotations

import torch

from wirefuse.rewrite.errors import TraceError
from wirefuse.rewrite.ir.term import Elem, Term
from wirefuse.rewrite.trace.values import TV, Context, DTypeOf, TopKValues, Unusable, unsupported_topk

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
    """x as a traced tensor, or the error that says why it is not one."""
    if isinstance(x, TV):
        return x
    if isinstance(x, TopKValues):
        raise unsupported_topk(x)
    if isinstance(x, Unusable):
        raise TraceError(f"{op}: uses {x.what}, which the tracer does not support")
    raise TraceError(f"{op}: expected a tensor, got {type(x).__name__}")


def is_py(x) -> bool:
    return isinstance(x, (bool, int, float))


def kind_of_dtype(d):
    """"bool", "int" or "float" for a torch dtype (or a traced `x.dtype`); None for anything else."""
    if isinstance(d, torch.dtype):
        if d == torch.bool:
            return "bool"
        return "float" if d.is_floating_point else "int"
    if isinstance(d, DTypeOf):
        return d.kind
    return None


def reduced_size(ctx: Context, x: TV, pos: list[int]) -> Term | None:
    """|reduced axes| as a term (None when all reduced dimensions are unnamed size-1)."""
    sizes = [ctx.size(x.dims[p]) for p in pos if x.dims[p] is not None]
    if not sizes:
        return None
    return sizes[0] if len(sizes) == 1 else Elem("mul", tuple(sizes))
