"""The e-graph encoding: terms round-trip through egglog, and saturation stays sound.

Round trip: encode → serialize → extract the smallest term → decode gives the term back, modulo
the order of add/mul arguments (a MultiSet has none).  Soundness: every normal form extracted
from a saturated e-graph evaluates (float64, rewrite.ir.evaluate) to the same values as the term.
"""
from __future__ import annotations

import torch
from egglog import EGraph
from hypothesis import given, settings, strategies as st

from wirefuse.search.egraph import SerializedGraph, encode
from wirefuse.rewrite.ir.evaluate import evaluate
from wirefuse.search.extract import extract_normal, extract_smallest
from wirefuse.search.saturate import Limits, saturate
from wirefuse.rewrite.ir.sexpr import parse
from wirefuse.rules.base import canon

from test_prove_fuzz import AXIS_SIZES, random_env, terms


def _round_trip(t):
    eg = EGraph()
    encode(t, eg)
    g = SerializedGraph.of(eg)
    return extract_smallest(g, g.root())


def test_round_trip_every_node_kind():
    for src in ["(layout@e,i (div (sum@j (mul s[i,j] v[j,e])) (sqrt (sum@j (square s[i,j])))))",
                "(where m[i,j]:bool s[i,j] -inf)", "(median@j s[i,j])", "(quantile@j:0.25 s[i,j])",
                "(bcast@k (max@j (sub s[i,j] |j|)))", "(rename@i:i2 x[i])",
                "(float (lt s[i,j] 0.5))", "$o[i,e]"]:
        t = parse(src)
        assert canon(_round_trip(t)) is canon(t), src


@settings(max_examples=25, deadline=None)
@given(terms())
def test_round_trip_random(t):
    assert canon(_round_trip(t)) is canon(t)


@settings(max_examples=12, deadline=None)
@given(terms(), st.integers(0, 2 ** 16))
def test_extracted_normal_form_is_equal(t, seed):
    sat = saturate(t, Limits(max_seconds=1.0, max_nodes=3000))
    g = sat.graph()
    found = extract_normal(g, g.root(), "j")
    if found is None:
        return
    nf, _ = found
    env = random_env(t, seed)
    a, b = evaluate(t, sizes=AXIS_SIZES, **env), evaluate(nf, sizes=AXIS_SIZES, **env)
    assert torch.allclose(a, b.permute(*[nf.axes.index(x) for x in t.axes]) if nf.axes != t.axes
                          else b, rtol=1e-7, atol=1e-9, equal_nan=True)


def test_limits_are_reported():
    t = parse("(sum@j (mul (div (exp (sub s[i,j] (max@j s[i,j]))) "
              "(sum@j (exp (sub s[i,j] (max@j s[i,j]))))) v[j,e]))")
    assert saturate(t, Limits(max_iters=0)).status == "iteration limit"
    assert saturate(t, Limits(max_nodes=3)).status == "node limit"
    assert saturate(t, Limits(max_seconds=0.0)).status == "time limit"
    full = saturate(t)
    assert full.status == "saturated" and full.enodes > 10 and full.iterations >= 1
