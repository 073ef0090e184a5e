"""Fuzzing the prover with random terms of the term language.

Every claimed proof must pass the independent checker and its stream form must equal the term
in float64 on random inputs (rewrite.ir.evaluate of the original term is the reference: it is the
term's definition, independent of the prover).  A refusal must leave the term out of normal
form (the prover never refuses a term `decompose` already accepts).
"""
from __future__ import annotations

import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from wirefuse.search.prover import prove
from wirefuse.theorems.checker import check_certificate
from wirefuse.rewrite.ir.evaluate import evaluate
from wirefuse.search.saturate import Limits
from wirefuse.rewrite.ir.term import Const, Elem, Input, Pos, Reduce, Size, inputs_of
from wirefuse.theorems.stream import NotNormal, decompose

AXIS_SIZES = {"i": 2, "j": 3, "e": 2}
LEAVES = [Input("s", ("i", "j")), Input("v", ("j", "e")), Input("x", ("i",)),
          Input("y", ("j",)), Const(2.0), Const(-0.5), Size("j"), Pos("j"), Pos("i")]


def _positive(t):
    """A term built from t that is > 0 everywhere (safe to divide by, to take roots of)."""
    return Elem("add", (Elem("square", (t,)), Const(1.0)))


@st.composite
def terms(draw, depth=3):
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(LEAVES))
    kind = draw(st.sampled_from(["add", "mul", "sub", "div", "exp", "relu", "sqrt", "tanh",
                                 "sum_j", "max_j", "sum_e"]))
    a = draw(terms(depth=depth - 1))
    if kind in ("add", "mul", "sub"):
        b = draw(terms(depth=depth - 1))
        return Elem(kind, (a, b))
    if kind == "div":
        return Elem("div", (a, _positive(draw(terms(depth=depth - 1)))))
    if kind == "exp":
        return Elem("exp", (Elem("tanh", (a,)),))
    if kind == "sqrt":
        return Elem("sqrt", (_positive(a),))
    if kind in ("relu", "tanh"):
        return Elem(kind, (a,))
    if kind == "sum_e":
        return Reduce("sum", "e", a) if "e" in a.axes else a
    return Reduce("sum" if kind == "sum_j" else "max", "j", a)


@st.composite
def stream_terms(draw):
    """A random term with the j axis reduced away at the top (so streaming along j is asked)."""
    t = draw(terms())
    return Reduce("sum", "j", t) if "j" in t.axes else t


def random_env(t, seed):
    gen = torch.Generator().manual_seed(seed)
    return {name: torch.randn(*[AXIS_SIZES[a] for a in inp.axes], generator=gen,
                              dtype=torch.float64)
            for name, inp in inputs_of(t).items()}


FAST = Limits(max_seconds=1.0, max_nodes=3000, max_iters=20)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream_terms(), st.integers(0, 2 ** 16))
def test_claimed_proofs_check_and_match(t, seed):
    try:
        p = prove(t, stream="j", limits=FAST, path_seconds=1.0)
    except Exception as e:  # a term with no j at all is a user error, not a prover bug
        assert "no axis 'j'" in str(e)
        return
    if not p.streamable:
        assert p.certificate is None and p.reason.startswith("not proven")
        if "limit" not in p.reason and "path" not in p.reason:
            try:
                decompose(t, "j")
                refused_normal = True
            except NotNormal:
                refused_normal = False
            # only the checker/path finder may refuse a term that is already normal
            assert not refused_normal or "checker" in p.reason, p.reason
        return
    assert check_certificate(p.certificate).ok
    env = random_env(t, seed)
    want = evaluate(t, sizes=AXIS_SIZES, **env)
    got = evaluate(p.stream_form.as_term(), sizes=AXIS_SIZES, **env)
    order = [p.stream_form.as_term().axes.index(a) for a in t.axes]
    assert torch.allclose(got.permute(*order) if order else got, want, rtol=1e-7, atol=1e-9,
                          equal_nan=True)


def test_tiny_limits_say_which_limit():
    from wirefuse.rewrite.ir.sexpr import parse
    t = parse("(sum@j (mul (div (exp (sub s[i,j] (max@j s[i,j]))) "
              "(sum@j (exp (sub s[i,j] (max@j s[i,j]))))) v[j,e]))")
    for lim, name in ((Limits(max_nodes=3), "node limit"), (Limits(max_iters=0),
                      "iteration limit"), (Limits(max_seconds=0.0), "time limit")):
        p = prove(t, stream="j", limits=lim)
        assert not p.streamable and name in p.reason and p.stats["limit"] == name
    assert prove(t, stream="j").streamable
