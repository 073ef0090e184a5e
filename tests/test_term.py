"""The term language: construction rules, printing/parsing and JSON round trips, the evaluator
against plain torch written independently, and the networkx view."""
import json
import math
import pickle

import pytest
import torch
from hypothesis import given, settings, strategies as st

from wirefuse.rewrite import (Broadcast, Const, Elem, Input, Layout, Opaque, Pos, Reduce, Rename,
                              Size, State, TermError, evaluate, parse, term_from_json,
                              term_to_json, to_sexpr)
from wirefuse.rewrite.ir.graph import to_networkx
from wirefuse.rewrite.ir.ops import SCALAR_OPS

AXES = ["i", "j", "d"]
SIZES = {"i": 3, "j": 5, "d": 2}


# --- a strategy for random well-formed terms over axes i, j, d -----------------------------
UNARY = ["neg", "abs", "exp", "tanh", "sigmoid", "relu", "square", "sin"]
BINARY = ["add", "mul", "sub", "max", "min"]


@st.composite
def terms(draw, depth=3):
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        kind = draw(st.sampled_from(["x", "y", "z", "const", "size", "pos"]))
        if kind == "x":
            return Input("x", ("i", "j"))
        if kind == "y":
            return Input("y", ("j", "d"))
        if kind == "z":
            return Input("z", ("i",))
        if kind == "size":
            return Size(draw(st.sampled_from(AXES)))
        if kind == "pos":
            return Pos(draw(st.sampled_from(AXES)))
        return Const(draw(st.floats(-2, 2, allow_nan=False).map(lambda v: round(v, 3))))
    kind = draw(st.sampled_from(["unary", "binary", "reduce", "where"]))
    if kind == "unary":
        return Elem(draw(st.sampled_from(UNARY)), (draw(terms(depth - 1)),))
    if kind == "binary":
        return Elem(draw(st.sampled_from(BINARY)), (draw(terms(depth - 1)), draw(terms(depth - 1))))
    if kind == "where":
        a, b = draw(terms(depth - 1)), draw(terms(depth - 1))
        return Elem("where", (Elem("gt", (a, b)), a, b))
    body = draw(terms(depth - 1))
    return Reduce(draw(st.sampled_from(["sum", "max", "min"])), draw(st.sampled_from(AXES)), body)


def env():
    g = torch.Generator().manual_seed(0)
    return {"x": torch.randn(3, 5, generator=g, dtype=torch.float64),
            "y": torch.randn(5, 2, generator=g, dtype=torch.float64),
            "z": torch.randn(3, generator=g, dtype=torch.float64)}


@settings(deadline=None, max_examples=150)
@given(terms())
def test_print_parse_and_json_round_trip(t):
    assert parse(to_sexpr(t)) is t
    assert term_from_json(json.loads(json.dumps(term_to_json(t)))) is t
    assert pickle.loads(pickle.dumps(t)) is t


def reference(t, e):
    """An independent evaluator: builds full (i, j, d) broadcasts with plain torch."""
    dims = {"i": 0, "j": 1, "d": 2}
    full = (3, 5, 2)

    def expand(x, axes):
        # place x's dims into the (i, j, d) frame
        shape = [1, 1, 1]
        order = sorted(axes, key=dims.get)
        x = x.permute([axes.index(a) for a in order]) if axes else x
        for a in order:
            shape[dims[a]] = full[dims[a]]
        return x.reshape(shape).expand(full)

    def go(t):  # returns a full (3, 5, 2) tensor; reduced axes become constant along that axis
        if isinstance(t, Input):
            return expand(e[t.name], list(t.axes))
        if isinstance(t, Const):
            return torch.full(full, t.value, dtype=torch.float64)
        if isinstance(t, Size):
            return torch.full(full, float(SIZES[t.axis]), dtype=torch.float64)
        if isinstance(t, Pos):  # 0, 1, ... along its own dimension of the frame
            return expand(torch.arange(SIZES[t.axis], dtype=torch.float64), [t.axis])
        if isinstance(t, Reduce):
            b, k = go(t.body), dims[t.axis]
            if t.axis not in t.body.axes:  # fold |axis| copies
                b = b  # b is constant along the axis already
            r = {"sum": b.sum(k, keepdim=True), "max": b.amax(k, keepdim=True),
                 "min": b.amin(k, keepdim=True)}[t.monoid]
            return r.expand(full)
        args = [go(a) for a in t.args]
        f = {"neg": lambda a: -a, "abs": torch.abs, "exp": torch.exp, "tanh": torch.tanh,
             "sigmoid": torch.sigmoid, "relu": torch.relu, "square": lambda a: a * a,
             "sin": torch.sin, "add": lambda a, b: a + b, "mul": lambda a, b: a * b,
             "sub": lambda a, b: a - b, "max": torch.maximum, "min": torch.minimum,
             "gt": lambda a, b: a > b, "where": torch.where}[t.op]
        return f(*args)

    out = go(t)
    idx = [slice(None) if a in t.axes else 0 for a in "ijd"]
    out = out[tuple(idx)]
    present = [a for a in "ijd" if a in t.axes]
    return out.permute([present.index(a) for a in t.axes]) if t.axes else out


@settings(deadline=None, max_examples=150)
@given(terms())
def test_evaluator_matches_independent_reference(t):
    e = env()
    got = evaluate(t, sizes=SIZES, **e)
    want = reference(t, e)
    assert got.shape == want.shape
    torch.testing.assert_close(got.to(torch.float64), want.to(torch.float64), equal_nan=True)


def test_attention_by_name_matches_torch():
    q, k, v = (torch.randn(2, 3, 4, dtype=torch.float64), torch.randn(2, 5, 4, dtype=torch.float64),
               torch.randn(2, 5, 6, dtype=torch.float64))
    t = parse("(layout@b,i,e (div (sum@j (mul (exp (sum@d (mul q[b,i,d] k[b,j,d]))) v[b,j,e]))"
              " (sum@j (exp (sum@d (mul q[b,i,d] k[b,j,d]))))))")
    want = torch.softmax(q @ k.mT, -1) @ v
    torch.testing.assert_close(evaluate(t, q=q, k=k, v=v), want)


def test_axes_align_by_name_not_position():
    a = Input("a", ("i", "j"))
    b = Input("b", ("j", "i"))
    x, y = torch.randn(3, 4, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    torch.testing.assert_close(evaluate(Layout(("i", "j"), a + b), a=x, b=y), x + y.T)


def test_broadcast_rename_opaque_and_bool():
    x = torch.randn(3, 4, dtype=torch.float64)
    m = torch.rand(3, 4) > 0.5
    X, M = Input("x", ("i", "j")), Input("m", ("i", "j"), "bool")
    t = Elem("where", (M, X, Const(-math.inf)))
    torch.testing.assert_close(evaluate(t, x=x, m=m), x.masked_fill(~m, -math.inf))
    med = Opaque("median", "j", (X,), ())
    torch.testing.assert_close(evaluate(med, x=x), x.median(-1).values)
    assert Broadcast("k", Input("z", ("i",))).axes == ("i", "k")
    assert evaluate(Broadcast("k", Input("z", ("i",))), sizes={"k": 2},
                    z=torch.ones(3)).shape == (3, 2)
    assert Rename("i", "i2", X).axes == ("i2", "j")
    assert evaluate(Reduce("sum", "j", Const(2.0)), sizes={"j": 7}).item() == 14.0


@pytest.mark.parametrize("bad", [
    lambda: Elem("nosuch", (Const(1.0),)),
    lambda: Elem("exp", (Const(1.0), Const(2.0))),
    lambda: Elem("add", (Const(1.0),)),
    lambda: Reduce("median", "j", Const(1.0)),
    lambda: Input("x", ("i", "i")),
    lambda: Broadcast("i", Input("x", ("i",))),
    lambda: Layout(("i",), Input("x", ("i", "j"))),
    lambda: Rename("k", "i", Input("x", ("i",))),
    lambda: Const(float("nan")),
    lambda: parse("(exp x[i]"),
    lambda: parse("(exp x[i]))"),
])
def test_bad_terms_are_refused(bad):
    with pytest.raises(TermError):
        bad()


def test_scalar_ops_torch_and_sympy_agree():
    import sympy
    vals = [0.3, 1.7]
    for op in SCALAR_OPS.values():
        if op.result == "bool" or op.name in ("where", "float"):
            continue
        n = 2 if op.arity in (-1, 2) else op.arity
        args = vals[:n]
        want = float(op.sympy_fn(*[sympy.Float(v) for v in args]))
        got = op.torch_fn(*[torch.tensor(v, dtype=torch.float64) for v in args]).item()
        assert math.isclose(got, want, rel_tol=1e-12), op.name


def test_networkx_view_wires_carry_axes():
    t = parse("(sum@j (mul (exp s[i,j]) v[j,e]))")
    g = to_networkx(t)
    out = [n for n, d in g.nodes(data=True) if d["kind"] == "output"][0]
    (src, _, data), = g.in_edges(out, data=True)
    assert tuple(data["axes"]) == ("i", "e")
    assert g.nodes[src]["label"] == "sum@j"
    assert g.number_of_nodes() == t.size() + 1


def test_state_terms_print():
    assert to_sexpr(State("o", ("i", "e"))) == "$o[i,e]"
    assert parse("$o[i,e]") is State("o", ("i", "e"))
