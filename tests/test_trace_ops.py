"""The tracer against torch itself: evaluate(trace(fn, axes), **inputs) == fn(**inputs), float64.

Each case is a small function for one family of operations; hypothesis draws the axis sizes
(including sizes that are not powers of two, and size 1 on axes that are not reduced) and the
values.  The reference is the function run by torch in float64, never the tracer.
"""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from wirefuse import evaluate, trace
from wirefuse.loading import axes_for_function
from wirefuse.rewrite import parse, to_sexpr

SETTINGS = settings(max_examples=12, deadline=None, derandomize=True)


def _pos(x):  # a positive value for log, sqrt, fractional powers
    return x.abs() + 0.1


# (function, axes, axes that must have size >= 2 because the function reduces them to a
#  statistic that needs two points)
CASES = []


def case(axes, wide=""):
    def deco(fn):
        CASES.append(pytest.param(fn, axes, wide, id=fn.__name__))
        return fn
    return deco


# --- arithmetic and scalar functions ---------------------------------------------------------
@case("x: i j, y: j")
def arith(x, y):
    return (x + y * 2 - 1) / (y.abs() + 1) + (2 - x) * 0.5 - (-x)


@case("x: i j, y: j")
def powers(x, y):
    return x ** 2 + _pos(x) ** 0.5 + 2 ** y + _pos(x) ** y + torch.pow(_pos(y), 1.5)


@case("x: i j")
def unary(x):
    return (torch.exp(x) + torch.log(_pos(x)) + torch.sqrt(_pos(x)) + torch.rsqrt(_pos(x))
            + x.square() + torch.tanh(x) + torch.sigmoid(x) + torch.relu(x) + F.relu(-x)
            + x.abs() + torch.neg(x) + x.exp().log1p() + torch.expm1(x) + x.reciprocal().tanh())


@case("x: i j, y: i j")
def clamps(x, y):
    return (x.clamp(-0.5, 0.5) + torch.clamp(x, min=0) + x.clamp(max=0.2) + x.clamp_min(0.1)
            + torch.clamp_max(x, -0.1) + torch.maximum(x, y) + torch.minimum(x, y)
            + torch.max(x, y) + torch.min(x, 0.3 * y))


@case("x: i j, y: j, m: i j")
def logic(x, y, m):
    a = torch.where(x > y, x, y) + torch.where(m, 1.0, -1.0)
    b = ((x > 0) & (y < 0)) | ~m
    c = (x >= y).float() + (x <= 0).to(torch.float64) + (x == x).float() + (x != y).float()
    return a + b.float() + c + torch.logical_and(m, x < 0.5).float()


@case("x: i j, m: i j")
def activations_and_guards(x, m):
    y = x.masked_fill(m, float("-inf"))
    return (F.elu(x) + F.elu(x, alpha=0.5) + F.leaky_relu(x) + F.silu(x)
            + torch.isinf(y).float() + y.isnan().float() + torch.isfinite(y).float()
            + m.any(-1, keepdim=True).float() + m.all(dim=0).float() + x.gt(0).any().float()
            + (x > 0).all(-1)[:, None].float())


@case("x: i j, m: i j")
def masked_fill(x, m):
    return x.masked_fill(m, 0.0) + x.masked_fill(~m, -2.5) * 2


@case("x: i j, y: j")
def casts(x, y):
    # float64 throughout: the term computes in float64, and x.float() would round in torch
    return (x.double() + x.to(torch.float64) + (x > y).long() * 1.5 + (x > 0).float()
            + x.contiguous() + x.clone() + (x > y).to(x.dtype) + (x - y).bool().double())


# --- layout ---------------------------------------------------------------------------------
@case("x: a b c")
def transposes(x):
    return x.transpose(0, 2).permute(1, 0, 2).mT + x.permute(2, 1, 0).transpose(0, 1).mT


@case("x: i j, y: j i")
def dot_t(x, y):
    return x * y.T + x * y.t() + x * y.mT + x * y.transpose(0, 1)


@case("x: i, y: j")
def outer(x, y):
    return (x[:, None] * y[None, :] + x.unsqueeze(-1) * y + x[..., None] - y.unsqueeze(0)
            + x[None, :, None].squeeze(0) + y.sum(-1, keepdim=True).squeeze(-1))


@case("x: j")
def pairwise(x):
    return x[:, None] - x[None, :]


@case("x: i j, y: k")
def expands(x, y):
    s = x.sum(-1, keepdim=True).expand(-1, x.shape[-1])
    return (s * x)[..., None] + x[..., None].expand(-1, -1, y.shape[0]) * y


# --- contractions ---------------------------------------------------------------------------
@case("x: b i j, y: j k, z: j")
def matmuls(x, y, z):
    return (x @ y) + torch.matmul(x, z)[..., None] + (x @ z)[..., None]


@case("x: i j, y: j")
def matvec(x, y):
    return (y @ x.mT) + (x @ y) + (y @ y)


@case("x: i d")
def gram(x):
    return x @ x.mT + x @ x.T


@case("q: b h i d, k: b h j d, v: b h j e")
def einsums(q, k, v):
    s = torch.einsum("bhid,bhjd->bhij", q, k)
    o = torch.einsum("...ij,...je->...ie", s, v)
    return o + torch.einsum("bhij, bhje -> bhie", [s, v]) + torch.einsum("bhid,bhid->bhi", q,
                                                                         q)[..., None]


@case("x: i j, y: j k")
def einsum_implicit(x, y):
    return torch.einsum("ij,jk", x, y) + torch.einsum("ij,jk->ik", x, y)


# --- reductions -----------------------------------------------------------------------------
@case("x: b i j")
def sums(x):
    return (x.sum(-1)[..., None] + x.sum((0, 1)) + x.sum() + torch.sum(x, dim=1, keepdim=True)
            + x.mean(-1, keepdim=True) + x.mean((0, 2))[None, :, None] + x.mean()
            + x.prod(-1, keepdim=True))


@case("x: b i j")
def extrema(x):
    return (x.amax(-1, keepdim=True) + x.amin(dim=(0, 1)) + x.max(dim=-1).values[..., None]
            + x.max(-1, keepdim=True)[0] + torch.min(x, dim=0).values + x.max() + x.min()
            + torch.amax(x, dim=-2, keepdim=True))


@case("x: i j", wide="j")
def moments(x):
    return (x.var(-1) + x.std(-1) + x.var(-1, unbiased=False) + x.var(dim=-1, correction=0)
            + torch.std(x, dim=-1, unbiased=True) + x.var(-1, keepdim=True)[:, 0]
            + torch.var(x, dim=-1, correction=0.5))


@case("x: i j", wide="i j")
def moments_all(x):
    return x.var() + x.std() + torch.var(x, unbiased=False) + x.std(dim=(0, 1), correction=0)


@case("x: b i j")
def softmaxes(x):
    c = x - x.mean(-1, keepdim=True)
    return (torch.softmax(x, dim=-1) + F.softmax(x, dim=0) + x.softmax(-2)
            + F.log_softmax(x, dim=-1) + x.log_softmax(dim=1) + c.softmax(-1)
            + torch.logsumexp(x, dim=-1)[..., None] + x.logsumexp(dim=(0, 1), keepdim=True)
            + x.sum(-1, keepdim=True).softmax(-1))


@case("x: i j")
def norms(x):
    return (torch.norm(x, dim=-1) + x.norm(p=1, dim=-1) + x.norm(3, -1)
            + torch.norm(x, p=float("inf"), dim=-1) + torch.norm(x, p=-math.inf, dim=-1)
            + torch.norm(x, p=0, dim=-1) + torch.linalg.vector_norm(x, ord=2.5, dim=-1)
            + torch.linalg.norm(x, dim=-1) + x.norm(dim=-1, keepdim=True)[:, 0] * 0
            + torch.norm(x) + torch.linalg.vector_norm(x, dim=(0, 1)))


@case("x: i j")
def normalizes(x):
    return (F.normalize(x, dim=-1) + F.normalize(x, p=1.0, dim=0) + F.normalize(x)
            + F.normalize(x, p=float("inf"), dim=-1, eps=1e-3))


# --- sizes as numbers -----------------------------------------------------------------------
@case("x: i j, y: j k")
def sizes(x, y):
    n, m = x.shape
    return (x / x.shape[-1] ** 0.5 + x * x.size(-2) + x / math.sqrt(y.shape[1]) + n * m
            + x.sum(-1, keepdim=True).shape[-1] + x.numel() + x.ndim + x.dim())


# --- opaque (non-monoid) reductions ---------------------------------------------------------
@case("x: i j")
def orders(x):
    z, _ = torch.sort(x, dim=-1, descending=True)
    return (z + x.sort(dim=0).values + torch.sort(x, -1)[0]
            + x.median(dim=-1, keepdim=True).values + torch.quantile(x, 0.3, dim=-1)[:, None]
            + x.cumsum(-1) + torch.cumsum(x, dim=0))


@case("x: i j")
def gathers(x):
    r = torch.arange(x.shape[-1])
    idx = (x > 0).sum(-1, keepdim=True).clamp(max=x.shape[-1] - 1)
    return (x.gather(-1, idx) + torch.arange(1, x.shape[-1] + 1, dtype=x.dtype) * x + r * 1.0
            + torch.arange(0, x.size(0)).float()[:, None])


@case("q: i d, k: j d, v: j e", wide="j")
def topk_threshold(q, k, v):
    s = q @ k.mT
    vals, _ = s.topk(2, dim=-1)
    t = s.topk(1, dim=0, largest=False).values
    s = s.masked_fill(s < vals[..., -1:], float("-inf")) + t[0] + vals.min(-1, keepdim=True)[0]
    return torch.softmax(s, -1) @ v + vals[:, 0:1] + vals.amax(-1, keepdim=True)


# --- masks and constants built from sizes ---------------------------------------------------
@case("q: b i d, k: b j d, v: b j e")
def causal_built(q, k, v):
    s = q @ k.mT / q.shape[-1] ** 0.5
    n, m = s.shape[-2], s.shape[-1]
    keep = torch.ones((n, m), dtype=torch.bool).tril()
    keep2 = torch.arange(n)[:, None] >= torch.arange(m)[None, :]
    return (torch.softmax(s.masked_fill(~keep, float("-inf")), dim=-1) @ v
            + torch.softmax(s.masked_fill(~keep2, -1e9), dim=-1) @ v)


@case("x: i j")
def factories(x):
    n = x.shape[-1]
    return (x + torch.ones((x.shape[0], n)).triu(1) * 2 + torch.full((x.shape[0], 1), 3.0)
            + torch.zeros((x.shape[0], n)) + torch.tril(x, -1) + x.triu()
            + torch.ones((n, n), dtype=torch.bool).tril().float().sum(0)
            + torch.ones_like(x) + torch.zeros_like(x) + torch.full_like(x, 0.5))


@case("x: i d, y: i e")
def symmetrised(x, y):
    g = x @ x.mT
    h = y @ y.mT
    return g + g.mT + h.mT * g.mT + (x @ x.T).T


def _inputs(fn, axes, sizes, data):
    out = {}
    for name, names in axes_for_function(fn, axes).items():
        shape = [sizes[a] for a in names]
        if name in ("m", "mask"):
            out[name] = torch.tensor(data.draw(st.lists(st.booleans(), min_size=math.prod(shape),
                                                        max_size=math.prod(shape)))).reshape(shape)
        else:
            vals = data.draw(st.lists(st.floats(-3, 3, allow_nan=False),
                                      min_size=math.prod(shape), max_size=math.prod(shape)))
            out[name] = torch.tensor(vals, dtype=torch.float64).reshape(shape)
    return out


def _draw_sizes(fn, axes, wide, data):
    names = sorted({a for ax in axes_for_function(fn, axes).values() for a in ax})
    return {a: data.draw(st.integers(2 if a in wide.split() else 1, 6), label=a) for a in names}


def assert_same(got, ref):
    ref = torch.as_tensor(ref)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    if ref.dtype == torch.bool:
        assert torch.equal(got.to(torch.bool), ref)
    else:
        assert torch.allclose(got, ref.to(torch.float64), rtol=1e-9, atol=1e-9, equal_nan=True), \
            (got - ref).abs().max()


_TRACED = {}


@pytest.mark.parametrize("fn, axes, wide", CASES)
@SETTINGS
@given(data=st.data())
def test_round_trip(fn, axes, wide, data):
    if fn not in _TRACED:
        _TRACED[fn] = trace(fn, axes)
    t = _TRACED[fn]
    inputs = _inputs(fn, axes, _draw_sizes(fn, axes, wide, data), data)
    # sizes: a function may read the size of an axis of an input it does not otherwise use
    sizes = {a: n for name, x in inputs.items()
             for a, n in zip(axes_for_function(fn, axes)[name], x.shape)}
    assert_same(evaluate(t, sizes, **inputs), fn(**inputs))


@pytest.mark.parametrize("fn, axes, wide", CASES)
def test_printed_form_reads_back(fn, axes, wide):
    t = trace(fn, axes)
    assert parse(to_sexpr(t)) is t


def test_softmax_is_the_stable_form():
    t = trace(lambda x: torch.softmax(x, dim=-1), "x: i j")
    m = "(max@j x[i,j])"
    e = f"(exp (sub x[i,j] {m}))"
    assert t is parse(f"(layout@i,j (div {e} (sum@j {e})))")


def test_logsumexp_and_log_softmax_forms():
    m = "(max@j x[i,j])"
    z = f"(sum@j (exp (sub x[i,j] {m})))"
    assert trace(lambda x: x.logsumexp(-1), "x: i j") is parse(f"(layout@i (add {m} (log {z})))")
    assert trace(lambda x: x.log_softmax(-1), "x: i j") is \
        parse(f"(layout@i,j (sub (sub x[i,j] {m}) (log {z})))")


def test_sizes_stay_symbolic():
    t = trace(lambda x: x.mean(-1) / x.shape[-1] ** 0.5 + x.var(-1), "x: i j")
    s = to_sexpr(t)
    assert "|j|" in s and "(sub |j| 1.0)" in s
    for n in (2, 5):  # the same term is right for every size
        x = torch.randn(3, n, dtype=torch.float64)
        assert_same(evaluate(t, x=x), x.mean(-1) / n ** 0.5 + x.var(-1))


def test_self_product_renames_one_side():
    t = trace(lambda x: x @ x.mT, "x: i d")
    assert t.axes == ("i", "i_1")
    assert any(type(n).__name__ == "Rename" for n in t.walk())


def test_keepdim_result_is_squeezed():
    """A returned keepdim dimension has no name: the term's result leaves it out."""
    t = trace(lambda x: x.sum(-1, keepdim=True) * x, "x: i j")
    assert t.axes == ("i", "j")
    t = trace(lambda x: x.amax(0, keepdim=True), "x: i j")
    x = torch.randn(3, 4, dtype=torch.float64)
    assert_same(evaluate(t, x=x), x.amax(0))


def test_keepdim_then_positional_dim():
    """softmax(dim=-1) after a keepdim reduction over -1 is a softmax over a size-1 dim."""
    def f(x):
        return x.amax(-1, keepdim=True).softmax(-1) + x.sum(0, keepdim=True).softmax(-2) * x

    t = trace(f, "x: i j")
    x = torch.randn(3, 4, dtype=torch.float64)
    assert_same(evaluate(t, x=x), f(x))
