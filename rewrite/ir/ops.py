"""The scalar functions a term may broadcast over its axes, and the monoids it may reduce with.

Each scalar function carries three meanings that must agree: a torch implementation (used by
the float64 reference evaluator), a sympy one (used by side conditions and the checker's monoid
laws), and a printed form.  The tests check the first two against each other.

>>> SCALAR_OPS["exp"].arity
1
>>> MONOIDS["max"].identity
-inf
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import sympy
import torch


@dataclass(frozen=True)
class ScalarOp:
    name: str
    arity: int  # -1: n-ary (two or more arguments), associative and commutative
    torch_fn: Callable
    sympy_fn: Callable
    result: str = "float"  # "float" or "bool"
    doc: str = ""


def _fold(f):
    def g(*xs):
        acc = xs[0]
        for x in xs[1:]:
            acc = f(acc, x)
        return acc
    return g


def _sym_relu(x):
    return sympy.Max(x, 0)


def _sym_sigmoid(x):
    return 1 / (1 + sympy.exp(-x))


def _where(c, a, b):
    return torch.where(c, a, b)


def _pow(a, b):
    # torch.pow on a python float exponent; keep tensors float64
    return torch.pow(a, b)


_OPS = [
    ScalarOp("add", -1, _fold(torch.add), lambda *xs: sympy.Add(*xs), doc="a + b + ..."),
    ScalarOp("mul", -1, _fold(torch.mul), lambda *xs: sympy.Mul(*xs), doc="a · b · ..."),
    ScalarOp("sub", 2, torch.sub, lambda a, b: a - b, doc="a − b"),
    ScalarOp("div", 2, torch.div, lambda a, b: a / b, doc="a / b"),
    ScalarOp("neg", 1, torch.neg, lambda a: -a, doc="−a"),
    ScalarOp("pow", 2, _pow, lambda a, b: a ** b, doc="a ^ b"),
    ScalarOp("square", 1, torch.square, lambda a: a ** 2, doc="a²"),
    ScalarOp("abs", 1, torch.abs, sympy.Abs, doc="|a|"),
    ScalarOp("exp", 1, torch.exp, sympy.exp, doc="e^a"),
    ScalarOp("log", 1, torch.log, sympy.log, doc="ln a"),
    ScalarOp("sqrt", 1, torch.sqrt, sympy.sqrt, doc="√a"),
    ScalarOp("rsqrt", 1, torch.rsqrt, lambda a: 1 / sympy.sqrt(a), doc="1/√a"),
    ScalarOp("tanh", 1, torch.tanh, sympy.tanh, doc="tanh a"),
    ScalarOp("sigmoid", 1, torch.sigmoid, _sym_sigmoid, doc="1/(1+e^−a)"),
    ScalarOp("relu", 1, torch.relu, _sym_relu, doc="max(a, 0)"),
    ScalarOp("log1p", 1, torch.log1p, lambda a: sympy.log(1 + a), doc="ln(1 + a)"),
    ScalarOp("expm1", 1, torch.expm1, lambda a: sympy.exp(a) - 1, doc="e^a − 1"),
    ScalarOp("sin", 1, torch.sin, sympy.sin, doc="sin a"),
    ScalarOp("cos", 1, torch.cos, sympy.cos, doc="cos a"),
    ScalarOp("max", 2, torch.maximum, sympy.Max, doc="max(a, b), elementwise"),
    ScalarOp("min", 2, torch.minimum, sympy.Min, doc="min(a, b), elementwise"),
    ScalarOp("where", 3, _where, lambda c, a, b: sympy.Piecewise((a, c), (b, True)),
             doc="a where c else b"),
    ScalarOp("lt", 2, torch.lt, lambda a, b: a < b, "bool", "a < b"),
    ScalarOp("le", 2, torch.le, lambda a, b: a <= b, "bool", "a ≤ b"),
    ScalarOp("gt", 2, torch.gt, lambda a, b: a > b, "bool", "a > b"),
    ScalarOp("ge", 2, torch.ge, lambda a, b: a >= b, "bool", "a ≥ b"),
    ScalarOp("eq", 2, torch.eq, sympy.Eq, "bool", "a = b"),
    ScalarOp("ne", 2, torch.ne, sympy.Ne, "bool", "a ≠ b"),
    ScalarOp("not", 1, torch.logical_not, sympy.Not, "bool", "¬a"),
    ScalarOp("and", 2, torch.logical_and, sympy.And, "bool", "a ∧ b"),
    ScalarOp("or", 2, torch.logical_or, sympy.Or, "bool", "a ∨ b"),
    ScalarOp("float", 1, lambda a: a.to(torch.float64),
             lambda a: sympy.Piecewise((1, a), (0, True)), doc="1.0 if a else 0.0"),
]

SCALAR_OPS: dict[str, ScalarOp] = {op.name: op for op in _OPS}


@dataclass(frozen=True)
class Monoid:
    """An associative reduction with an identity: what a Reduce node folds with."""
    name: str
    identity: float
    torch_reduce: Callable  # (tensor, dim) -> tensor
    combine: Callable  # sympy (a, b) -> a ⊕ b
    symbol: str


MONOIDS: dict[str, Monoid] = {
    "sum": Monoid("sum", 0.0, lambda x, d: x.sum(d), lambda a, b: a + b, "Σ"),
    "prod": Monoid("prod", 1.0, lambda x, d: x.prod(d), lambda a, b: a * b, "Π"),
    "max": Monoid("max", -math.inf, lambda x, d: x.amax(d), sympy.Max, "max"),
    "min": Monoid("min", math.inf, lambda x, d: x.amin(d), sympy.Min, "min"),
}


@dataclass(frozen=True)
class OpaqueOp:
    """A reduction that is not a monoid fold: kept whole so the prover can refuse it by name.

    `keeps_axis`: the result still has the reduced axis (sort, cumsum) or loses it (median)."""
    name: str
    keeps_axis: bool
    torch_fn: Callable  # (first argument, dim, *other arguments, *params) -> tensor
    why: str


def _quantile(x, d, q):
    return torch.quantile(x, q, dim=d)


def _topk_mask(x, d, k):
    # top-k as a mask: x where x is among the k largest along d, else -inf.
    k = int(k)
    kth = torch.topk(x, min(k, x.shape[d]), dim=d).values.narrow(d, min(k, x.shape[d]) - 1, 1)
    return torch.where(x >= kth, x, torch.full_like(x, -math.inf))


OPAQUE_OPS: dict[str, OpaqueOp] = {
    "sort": OpaqueOp("sort", True, lambda x, d: torch.sort(x, dim=d).values,
                     "a sort needs every element of the axis before it can place any"),
    "median": OpaqueOp("median", False, lambda x, d: torch.median(x, dim=d).values,
                       "a median is an order statistic of the whole axis, not a fold"),
    "quantile": OpaqueOp("quantile", False, _quantile,
                         "a quantile is an order statistic of the whole axis, not a fold"),
    "topk": OpaqueOp("topk", True, _topk_mask,
                     "a top-k threshold depends on the whole axis"),
    "cumsum": OpaqueOp("cumsum", True, lambda x, d: torch.cumsum(x, dim=d),
                       "a prefix sum keeps the axis: its result grows with the axis"),
    "gather": OpaqueOp("gather", True, lambda x, d, idx: torch.gather(x, d, idx.long()),
                       "a gather picks elements by data-dependent position along the axis"),
}
