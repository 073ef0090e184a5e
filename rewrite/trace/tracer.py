"""The PyTorch tracer: a plain torch function and an axis spec in, a term over named axes out.

    trace(fn, "q: b h i d, k: b h j d, v: b h j e") -> Term

torch.fx's symbolic tracer records the function as a graph of torch calls (it runs the Python
code on proxies, so helper functions are inlined and Python arithmetic on constants is done at
trace time).  The graph is then interpreted over `TV`s (trace_values.py): each value is a term
plus the axis name of each of its positions, and each torch call becomes terms through the table
in trace_ops.py.  The result is wrapped in `Layout(order, body)` so that evaluating the term gives
the dimensions in the order torch does:

>>> import torch
>>> from wirefuse.rewrite.ir.evaluate import evaluate
>>> def attn(q, k, v):
...     return torch.softmax(q @ k.mT / q.shape[-1] ** 0.5, dim=-1) @ v
>>> t = trace(attn, "q: i d, k: j d, v: j e")
>>> t.axes
('i', 'e')
>>> q, k, v = torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2)
>>> torch.allclose(evaluate(t, q=q, k=k, v=v), attn(q.double(), k.double(), v.double()))
True

A dimension of size 1 kept by `keepdim=True` has no name and is not part of the term: evaluating
a function that returns one gives the result without it (squeezed).  Precision casts
(`.float()`, `.half()`) are the identity: the term means the real-number function, evaluated in
float64.  A term that reads the size of an axis no input in it carries (only `y.shape[0]` of an
otherwise unused `y`) needs `evaluate(term, sizes={...})`.  The number of dimensions of an input
is not checked at trace time (fx sees no shapes): the evaluator checks it against the spec.

Anything the tracer cannot follow is a `TraceError` naming the line of user code:

>>> def gelu_attn(q, k):
...     return torch.nn.functional.gelu(q @ k.mT)
>>> trace(gelu_attn, "q: i d, k: j d")
Traceback (most recent call last):
...
wirefuse.rewrite.errors.TraceError: <doctest ...>:2: torch.nn.functional.gelu is not supported by the tracer (supported: ...)
"""
from __future__ import annotations

import builtins
import contextlib
import functools
import operator
import os
import re
import traceback

import torch
import torch.fx as fx
import torch.nn.functional as F

from wirefuse.rewrite.errors import AxisSpecError, TraceError, UserError
from wirefuse.rewrite.trace.axes import axes_for_function
from wirefuse.rewrite.ir.term import Input, Layout, Term, TermError
# ops, order and shapes each register their handlers in registry.HANDLERS when imported
from wirefuse.rewrite.trace import order  # noqa: F401
from wirefuse.rewrite.trace.ops import SUPPORTED_SUMMARY, UNSUPPORTED_HINTS, _Retry
from wirefuse.rewrite.trace.registry import HANDLERS
from wirefuse.rewrite.trace.shapes import shape_of
from wirefuse.rewrite.trace.values import (TV, Context, DTypeOf, Multi, TopKValues, Unusable,
                                           unsupported_topk)

_TORCH_DIR = os.path.dirname(torch.__file__)
_TRACER_DIR = os.path.dirname(os.path.abspath(__file__))


def _is_user_file(filename: str) -> bool:
    """Frames of the user's code: neither torch's nor the tracer's own."""
    if filename.startswith("<frozen"):
        return False
    f = os.path.abspath(filename) if not filename.startswith("<") else filename
    return not (f.startswith(_TORCH_DIR + os.sep) or f.startswith(_TRACER_DIR + os.sep))


class _Tracer(fx.Tracer):
    """fx's tracer, recording for each node the innermost frame of user code."""
    record_stack_traces = True

    def _filter_traceback_frames(self, summary):
        frames = [f for f in summary if _is_user_file(f.filename)]
        return traceback.StackSummary.from_list(frames[-1:])


_LOC = re.compile(r'File "([^"]+)", line (\d+)')


def _where(filename: str, line) -> str:
    return f"{os.path.basename(filename)}:{line}"


def _node_loc(node) -> str | None:
    found = _LOC.findall(node.stack_trace or "")
    return _where(*found[-1]) if found else None


def _exc_loc(exc: BaseException) -> str | None:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_user_file(f.filename)]
    return _where(frames[-1].filename, frames[-1].lineno) if frames else None


# --- naming the callee of a graph node ------------------------------------------------------

def _callee_names() -> dict[int, str]:
    """id(function object) -> handler name, for torch.*, torch.nn.functional.*, operator.*."""
    out: dict[int, str] = {}
    for name in HANDLERS:
        for ns in (torch, F, torch.special, operator):
            f = getattr(ns, name, None)
            if callable(f) and id(f) not in out:
                out[id(f)] = name
    import math
    for name in ("sqrt", "exp", "log", "tanh", "log1p", "expm1", "sin", "cos"):
        out[id(getattr(math, name))] = name  # math.sqrt(q.shape[-1]) is recorded by fx
    out[id(torch.linalg.vector_norm)] = "vector_norm"
    out[id(torch.linalg.norm)] = "linalg_norm"
    out[id(operator.matmul)] = "matmul"
    out[id(operator.truediv)] = "truediv"
    out[id(operator.invert)] = "invert"
    out[id(operator.and_)] = "and_"
    out[id(operator.or_)] = "or_"
    out[id(operator.neg)] = "neg"
    out[id(operator.abs)] = "abs"
    out[id(operator.pow)] = "pow"
    return out


_CALLEES = _callee_names()


def _qualname(f) -> str:
    mod = getattr(f, "__module__", None) or ""
    short = getattr(f, "__name__", "")
    if short and getattr(torch, short, None) is f:
        return f"torch.{short}"
    name = getattr(f, "__qualname__", None) or short or repr(f)
    if mod.startswith("torch.nn.functional") or f is getattr(F, name, None):
        return f"torch.nn.functional.{name}"
    if mod.startswith("torch") or getattr(torch, name, None) is f:
        return f"torch.{name}"
    return f"{mod}.{name}" if mod else name


def _unsupported(what: str, short: str) -> TraceError:
    hint = UNSUPPORTED_HINTS.get(short)
    tail = f"({hint})" if hint else f"(supported: {SUPPORTED_SUMMARY})"
    return TraceError(f"{what} is not supported by the tracer {tail}")


# --- the interpreter ------------------------------------------------------------------------

def _getattr(ctx, obj, attr):
    if isinstance(obj, TV):
        if attr == "shape":
            return shape_of(ctx, obj)
        if attr == "mT" or attr == "mH":
            return HANDLERS["transpose"](ctx, (obj, -2, -1), {})
        if attr in ("T", "H"):
            return HANDLERS["t"](ctx, (obj,), {})
        if attr == "ndim":
            return obj.ndim
        if attr == "dtype":
            return DTypeOf(obj.kind)
        if attr in ("device", "layout"):
            return None
        if attr == "real":
            return obj
        raise _unsupported(f"tensor attribute .{attr}", attr)
    if isinstance(obj, Multi):
        if attr in Multi.fields:
            return obj[Multi.fields.index(attr)]
    if isinstance(obj, DTypeOf) and attr == "is_floating_point":
        return obj.kind == "float"
    raise TraceError(f"attribute .{attr} of {type(obj).__name__} is not supported by the tracer")


def _getitem(ctx, obj, idx):
    if isinstance(obj, (tuple, list)) and not isinstance(obj, TV):
        if isinstance(idx, (int, slice)):
            return obj[idx]
    if isinstance(obj, TV):
        return _index_tensor(obj, idx)
    if isinstance(obj, TopKValues):
        return _index_topk(obj, idx)
    raise TraceError(f"indexing {type(obj).__name__} with {idx!r} is not supported")


def _index_topk(tk: TopKValues, idx) -> TV:
    """vals[..., m] and vals[..., m:m+1] (the threshold idiom vals[..., -1:]) on topk's axis."""
    idx = idx if isinstance(idx, tuple) else (idx,)
    n = tk.x.ndim
    if idx and idx[0] is Ellipsis:
        idx = (slice(None),) * (n - len(idx) + 1) + idx[1:]
    idx = idx + (slice(None),) * (n - len(idx))
    if len(idx) != n or any(i != slice(None) for q, i in enumerate(idx) if q != tk.p):
        raise unsupported_topk(tk)
    i = idx[tk.p]
    if isinstance(i, int) and not isinstance(i, bool):
        return tk.entry(i, keepdim=False)
    if isinstance(i, slice):
        picked = list(range(tk.k))[i]  # which entries the slice keeps, as Python would
        if len(picked) == 1:
            return tk.entry(picked[0], keepdim=True)
    raise unsupported_topk(tk)


def _drop_unit_ints(x: TV, idx: tuple):
    """x[:, 0] on a size-1 unnamed dimension (one kept by keepdim) just removes it."""
    if sum(i is Ellipsis for i in idx) > 1:
        raise TraceError("more than one ... in an index")
    real = [i for i in idx if i is not None]
    n_ell = x.ndim - (len(real) - (Ellipsis in real))
    pos, k, keep = [], 0, []
    for i in idx:
        if i is None:
            keep.append(i)
        elif i is Ellipsis:
            k += n_ell
            keep.append(i)
        else:
            if isinstance(i, int) and not isinstance(i, bool):
                if k >= x.ndim or x.dims[k] is not None or i not in (0, -1):
                    raise TraceError(f"indexing with {i!r} is not supported (only :, ..., None, "
                                     "and 0 on a size-1 dimension without a name)")
                pos.append(k)
            else:
                keep.append(i)
            k += 1
    return TV(x.term, tuple(d for p, d in enumerate(x.dims) if p not in pos), x.kind), \
        tuple(keep)


def _index_tensor(x: TV, idx) -> TV:
    """x[..., None], x[:, None], x[None]: only full slices, Ellipsis and None (new size-1 dims)."""
    idx = idx if isinstance(idx, tuple) else (idx,)
    if any(isinstance(i, int) and not isinstance(i, bool) for i in idx):
        x, idx = _drop_unit_ints(x, idx)
    for i in idx:
        if not (i is None or i is Ellipsis or (isinstance(i, slice) and i == slice(None))):
            raise TraceError(f"indexing with {i!r} is not supported (only :, ... and None; "
                             "a slice or an integer index would cut an axis)")
    if sum(i is Ellipsis for i in idx) > 1:
        raise TraceError("more than one ... in an index")
    n_real = sum(1 for i in idx if i is not None and i is not Ellipsis)
    if n_real > x.ndim:
        raise AxisSpecError(f"index {idx} has more entries than the {x.ndim} dimensions "
                            f"{x.describe()}")
    if Ellipsis not in idx:
        idx = idx + (Ellipsis,)
    dims, src = [], list(x.dims)
    k = 0
    for i in idx:
        if i is None:
            dims.append(None)
        elif i is Ellipsis:
            take = x.ndim - n_real
            dims.extend(src[k:k + take])
            k += take
        else:
            dims.append(src[k])
            k += 1
    return TV(x.term, tuple(dims), x.kind)


def _interpret(graph: fx.Graph, axes: dict, bool_inputs: set, constants: dict) -> Term:
    ctx = Context({a for ax in axes.values() for a in ax})
    ctx.bool_inputs = set(bool_inputs)
    env: dict = {}

    def val(a):
        return fx.node.map_arg(a, lambda n: env[n])

    for node in graph.nodes:
        try:
            env[node] = _run_node(ctx, node, val, axes, constants)
        except _Retry:
            raise
        except UserError as e:
            loc = _node_loc(node)
            msg = str(e)
            raise type(e)(f"{loc}: {msg}" if loc and not re.match(r"\S+:\d+: ", msg)
                          else msg) from None
        except TermError as e:
            loc = _node_loc(node)
            raise TraceError(f"{loc + ': ' if loc else ''}{e}") from None
        except (TypeError, ValueError, KeyError, IndexError) as e:  # arguments we cannot read
            loc = _node_loc(node)
            raise TraceError(f"{loc + ': ' if loc else ''}cannot trace {_describe(node)} "
                             f"({type(e).__name__}: {e})") from None
    raise TraceError("the traced function has no output")


def _describe(node) -> str:
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    return _qualname(node.target) if callable(node.target) else str(node.target)


def _run_node(ctx, node, val, axes, constants):
    if node.op == "placeholder":
        name = node.target
        if name in axes:
            return TV(Input(name, axes[name], "bool" if name in ctx.bool_inputs else "float"),
                      tuple(axes[name]), "bool" if name in ctx.bool_inputs else "float")
        if name in constants:
            return constants[name]
        return node.args[0] if node.args else None
    if node.op == "output":
        out = val(node.args[0])
        raise _Done(out)
    args, kwargs = tuple(val(node.args)), dict(val(node.kwargs))
    if node.op == "call_method":
        name = node.target
        if name.startswith("__r") and name.endswith("__"):
            name = "r" + name[3:-2]
        elif name.startswith("__") and name.endswith("__"):
            name = name[2:-2]
        h = HANDLERS.get(name)
        if h is None:
            raise _unsupported(f"Tensor.{node.target}", node.target)
        return h(ctx, args, kwargs)
    if node.op == "call_function":
        f = node.target
        if f is builtins.getattr:
            return _getattr(ctx, *args)
        if f is operator.getitem:
            return _getitem(ctx, *args)
        if f is torch._assert or getattr(f, "__name__", "") == "_assert":
            return None
        name = _CALLEES.get(id(f))
        if name is None:
            raise _unsupported(_qualname(f), getattr(f, "__name__", ""))
        python_op = getattr(f, "__module__", None) in ("_operator", "operator")
        if python_op and not kwargs and all(isinstance(a, (bool, int, float)) for a in args):
            return f(*args)  # arithmetic on Python numbers read off shapes (x.ndim - 2)
        if f in (operator.eq, operator.ne) and not any(isinstance(a, TV) for a in args):
            return f(*args)  # the guard fx adds for a constant argument
        return HANDLERS[name](ctx, args, kwargs)
    raise TraceError(f"graph node {node.op} is not supported by the tracer")


class _Done(Exception):
    def __init__(self, value):
        self.value = value


def _result(ctx_out) -> Term:
    if isinstance(ctx_out, TV):
        order = tuple(d for d in ctx_out.dims if d is not None)
        # a 0-d result has no order to fix (and `(layout@ x)` does not read back)
        return Layout(order, ctx_out.term) if order else ctx_out.term
    if isinstance(ctx_out, (tuple, list)):
        raise TraceError(f"the function returns {len(ctx_out)} values; return one tensor")
    if isinstance(ctx_out, TopKValues):
        raise unsupported_topk(ctx_out)
    if isinstance(ctx_out, Unusable):
        raise TraceError(f"the function returns {ctx_out.what}, which the tracer does not "
                         "support")
    raise TraceError(f"the function returns a {type(ctx_out).__name__}, not a tensor")


@contextlib.contextmanager
def _sizes_as_varargs():
    """torch.ones(n, m) with sizes read from shapes: torch's argument parser takes traced sizes
    only as one tuple, so while fx runs the function, ones/zeros pass them as one (fx then
    records the call to the real torch.ones, which the interpreter handles)."""
    saved = {name: getattr(torch, name) for name in ("ones", "zeros")}

    def packing(orig):
        @functools.wraps(orig)
        def call(*size, **kw):
            if len(size) > 1 and any(isinstance(x, fx.Proxy) for x in size):
                return orig(tuple(size), **kw)
            return orig(*size, **kw)
        return call
    try:
        for name, orig in saved.items():
            setattr(torch, name, packing(orig))
        yield
    finally:
        for name, orig in saved.items():
            setattr(torch, name, orig)


def _fx_graph(fn, params: list[str], constants: dict) -> fx.Graph:
    tracer = _Tracer()
    try:
        with _sizes_as_varargs():
            return tracer.trace(fn, concrete_args=constants or None)
    except UserError:
        raise
    except Exception as e:  # fx failed while running the user's code on proxies
        loc = _exc_loc(e)
        where = f"{loc}: " if loc else ""
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "control flow" in msg or "bool" in msg.lower() and "Proxy" in msg or \
                "iteration over" in msg.lower() or "len" in msg and "symbolic" in msg:
            raise TraceError(f"{where}Python control flow (if/while/for/bool()/len()) on a "
                             "traced tensor depends on the data and cannot be traced; use "
                             "torch.where or masks instead") from None
        if "positional argument" in msg:  # torch.ones(n, m) with traced sizes
            msg += "; with sizes read from shapes, pass them as one tuple: torch.ones((n, m))"
        raise TraceError(f"{where}the tracer cannot run this code on symbolic tensors "
                         f"({type(e).__name__}: {msg}); use torch operations on tensors "
                         "(for example x.shape[-1] ** 0.5 rather than math.sqrt)") from None


def trace(fn, axes) -> Term:
    """Trace a PyTorch function into a term over named axes.

    `axes` is the einops-style spec ("q: b h i d, k: b h j d, v: b h j e") or a dict
    {argument: axis names}; arguments with default values are constants of the trace.
    The result is `Layout(order, body)` with the order of torch's result dimensions."""
    import inspect

    if not callable(fn):
        raise TraceError(f"trace needs a function, got {type(fn).__name__}")
    spec = axes_for_function(fn, axes)
    spec = {k: tuple(v) for k, v in spec.items()}
    seen: dict[str, str] = {}
    constants = {}
    for p in inspect.signature(fn).parameters.values():
        if p.name not in spec:
            if p.default is inspect.Parameter.empty:
                if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                    raise TraceError(f"{fn.__name__}: *args/**kwargs cannot be traced; name each "
                                     "tensor argument")
                raise AxisSpecError(f"the axis spec gives no axes for {p.name}")
            constants[p.name] = p.default
    graph = _fx_graph(fn, list(spec), constants)
    bool_inputs: set[str] = set()
    for _ in range(len(spec) + 1):
        try:
            _interpret(graph, spec, bool_inputs, constants)
        except _Done as d:
            return _result(d.value)
        except _Retry as r:  # an input is used as a mask: trace again with it boolean
            bool_inputs.add(r.name)
    raise TraceError("could not settle which inputs are boolean")
