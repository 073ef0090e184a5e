"""The reference evaluator: a term and torch tensors in, a float64 tensor out.

This is the semantics every rewrite, certificate and kernel is tested against, so it is kept
plain: each node is computed with torch in float64 (booleans stay boolean), axes aligned by name.

>>> import torch
>>> from wirefuse.rewrite.ir.sexpr import parse
>>> t = parse("(layout@i,j (sum@d (mul q[i,d] k[j,d])))")
>>> q, k = torch.ones(2, 3), torch.ones(4, 3)
>>> evaluate(t, q=q, k=k).shape
torch.Size([2, 4])
"""
from __future__ import annotations

import torch

from wirefuse.rewrite.ir.ops import MONOIDS, OPAQUE_OPS, SCALAR_OPS
from wirefuse.rewrite.ir.term import (Broadcast, Const, Elem, Input, Layout, Opaque, Pos, Reduce,
                                      Rename, Size, State, Term, TermError, union_axes)


class EvalError(ValueError):
    pass


class Labelled:
    """A tensor whose dimensions carry axis names, in the order of `axes`."""
    __slots__ = ("t", "axes")

    def __init__(self, t: torch.Tensor, axes: tuple[str, ...]):
        assert t.dim() == len(axes), (t.shape, axes)
        self.t, self.axes = t, axes

    def aligned(self, axes: tuple[str, ...]) -> torch.Tensor:
        """This value laid out over `axes` (a superset of its own), size-1 where it is absent."""
        perm = [self.axes.index(a) for a in axes if a in self.axes]
        t = self.t.permute(perm) if perm != list(range(len(perm))) else self.t
        shape = [t.shape[perm.index(self.axes.index(a))] if a in self.axes else 1 for a in axes]
        return t.reshape(shape)


def _as_float(t: torch.Tensor) -> torch.Tensor:
    return t if t.dtype == torch.bool else t.to(torch.float64)


def bind_sizes(term: Term, env: dict[str, torch.Tensor], sizes: dict[str, int] | None = None):
    """Axis sizes, read off the tensors bound to inputs and states; mismatches are errors."""
    out: dict[str, int] = dict(sizes or {})
    for t in term.walk():
        if isinstance(t, (Input, State)):
            if t.name not in env:
                raise EvalError(f"no value given for {t.name} (axes {' '.join(t.axes)})")
            x = env[t.name]
            if x.dim() != len(t.axes):
                raise EvalError(f"{t.name} has {x.dim()} dimensions, expected {len(t.axes)}"
                                f" ({' '.join(t.axes)})")
            for a, n in zip(t.axes, x.shape):
                if out.setdefault(a, n) != n:
                    raise EvalError(f"axis {a} has size {out[a]} elsewhere but {n} in {t.name}")
    return out


def evaluate(term: Term, sizes: dict[str, int] | None = None, **env: torch.Tensor) -> torch.Tensor:
    """Evaluate in float64.  The result's dimensions follow `term.axes`."""
    return evaluate_labelled(term, env, sizes).t


def evaluate_labelled(term: Term, env: dict, sizes: dict[str, int] | None = None,
                      offsets: dict[str, int] | None = None) -> Labelled:
    """`offsets`: the global index of the first entry of each axis (default 0).  A chunk of keys
    lo..hi is evaluated with sizes[j] = hi − lo and offsets[j] = lo, so that its positions
    `Pos(j)` are lo..hi−1, the keys' own indices in the whole axis."""
    size = bind_sizes(term, env, sizes)
    offsets = offsets or {}
    vals: dict[int, Labelled] = {}
    for n in term.walk():
        if isinstance(n, Pos):
            lo = offsets.get(n.axis, 0)
            vals[id(n)] = Labelled(torch.arange(lo, lo + _size_of(size, n.axis),
                                                dtype=torch.float64), n.axes)
            continue
        vals[id(n)] = _eval_node(n, [vals[id(c)] for c in n.children], env, size)
    return vals[id(term)]


def _size_of(size: dict[str, int], axis: str) -> int:
    if axis not in size:
        raise EvalError(f"the size of axis {axis} is not known: no input has it")
    return size[axis]


def _eval_node(n: Term, kids: list[Labelled], env, size) -> Labelled:
    if isinstance(n, (Input, State)):
        return Labelled(_as_float(torch.as_tensor(env[n.name])), n.axes)
    if isinstance(n, Const):
        dt = torch.bool if n.dtype == "bool" else torch.float64
        return Labelled(torch.tensor(n.value, dtype=dt), ())
    if isinstance(n, Size):
        return Labelled(torch.tensor(float(_size_of(size, n.axis)), dtype=torch.float64), ())
    if isinstance(n, Elem):
        axes = n.axes
        args = [k.aligned(axes) for k in kids]
        op = SCALAR_OPS[n.op]
        if n.op == "where":  # a boolean condition, float branches
            args = [args[0].to(torch.bool)] + [a.to(torch.float64) for a in args[1:]]
        elif n.op not in ("float", "not", "and", "or"):  # arithmetic: booleans count as 0/1
            args = [a.to(torch.float64) for a in args]
        out = op.torch_fn(*args)
        return Labelled(out, axes)
    if isinstance(n, Reduce):
        (b,) = kids
        x = b.t.to(torch.float64)
        if n.axis in b.axes:
            x = MONOIDS[n.monoid].torch_reduce(x, b.axes.index(n.axis))
            return Labelled(x, n.axes)
        # Σ over an axis the body lacks: fold |axis| copies.
        reps = _size_of(size, n.axis)
        x = x.unsqueeze(-1).expand(*x.shape, reps)
        return Labelled(MONOIDS[n.monoid].torch_reduce(x, -1), n.axes)
    if isinstance(n, Broadcast):
        (b,) = kids
        t = b.t.unsqueeze(-1).expand(*b.t.shape, _size_of(size, n.axis))
        return Labelled(t, n.axes)
    if isinstance(n, Rename):
        (b,) = kids
        return Labelled(b.t, n.axes)
    if isinstance(n, Layout):
        (b,) = kids
        return Labelled(b.aligned(n.order), n.order)
    if isinstance(n, Opaque):
        axes = union_axes(kids)  # Labelled values carry .axes like terms
        args = [k.aligned(axes).expand(*[size[a] for a in axes]) for k in kids]
        op = OPAQUE_OPS[n.op]
        x = op.torch_fn(args[0].to(torch.float64), axes.index(n.axis), *args[1:], *n.params)
        return Labelled(x, n.axes)
    raise TermError(f"cannot evaluate {type(n).__name__}")
