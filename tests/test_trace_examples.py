"""Every example traces, round-trips through the evaluator against torch in float64, and prints
through `wirefuse trace` (s-expression and JSON)."""
import importlib.util
import json
import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from wirefuse import evaluate, trace
from wirefuse.cli import main
from wirefuse.loading import axes_for_function
from wirefuse.rewrite import parse, term_from_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ["examples/attention.py", "examples/other.py"]


def _load(rel):
    spec = importlib.util.spec_from_file_location("_ex_" + os.path.basename(rel)[:-3],
                                                  os.path.join(ROOT, rel))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


MODULES = {rel: _load(rel) for rel in FILES}
ENTRIES = [pytest.param(rel, name, id=f"{os.path.basename(rel)[:-3]}.{name}")
           for rel, mod in MODULES.items() for name in mod.EXAMPLES]


def test_library_covers_the_brief():
    att = MODULES["examples/attention.py"].EXAMPLES
    assert len(att) >= 16
    assert sum(e["streamable"] for e in att.values()) >= 16
    assert att["spherical"]["axes"] == "q: b h i d, k: b h j d, v: b h j e"
    assert att["spherical"]["stream"] == "j" and att["spherical"]["streamable"]
    for name in ["sparsemax", "entmax15", "median_norm", "exp_after_softmax"]:
        assert att[name]["streamable"] is False
    for e in list(att.values()) + list(MODULES["examples/other.py"].EXAMPLES.values()):
        assert set(e) >= {"axes", "stream", "streamable", "note"}
        assert e["expected"] == ("streamable" if e["streamable"] else "not streamable")


def _inputs(fn, axes, sizes, gen):
    out = {}
    for name, names in axes_for_function(fn, axes).items():
        shape = [sizes[a] for a in names]
        if name == "mask" and names == ("i", "j"):  # causal: lower triangle, diagonal kept
            out[name] = torch.ones(shape).tril().bool()
        elif name == "mask":  # padding: random, at least one valid key per row
            m = torch.rand(shape, generator=gen) > 0.4
            m[..., 0] = True
            out[name] = m
        else:
            out[name] = torch.randn(shape, generator=gen, dtype=torch.float64)
    return out


_TRACED = {}


@pytest.mark.parametrize("rel, name", ENTRIES)
@settings(max_examples=6, deadline=None, derandomize=True)
@given(data=st.data())
def test_example_round_trip(rel, name, data):
    mod = MODULES[rel]
    entry, fn = mod.EXAMPLES[name], getattr(mod, name)
    if (rel, name) not in _TRACED:
        _TRACED[rel, name] = trace(fn, entry["axes"])
    axes = sorted({a for ax in axes_for_function(fn, entry["axes"]).values() for a in ax})
    # size 1 only on axes nothing reduces (b, h, i, e, o, t); the others from 2, odd sizes too
    low = {a: 1 for a in ("b", "h", "i", "e", "o", "t")}
    sizes = {a: data.draw(st.integers(low.get(a, 2), 6), label=a) for a in axes}
    gen = torch.Generator().manual_seed(data.draw(st.integers(0, 2 ** 16), label="seed"))
    inputs = _inputs(fn, entry["axes"], sizes, gen)
    ref = fn(**inputs)
    got = evaluate(_TRACED[rel, name], **inputs)
    assert got.shape == ref.shape
    assert not torch.isnan(ref).any()
    assert torch.allclose(got, ref, rtol=1e-7, atol=1e-9), (got - ref).abs().max()


@pytest.mark.parametrize("rel, name", ENTRIES)
def test_cli_trace_prints_the_term(rel, name, capsys):
    mod = MODULES[rel]
    axes = mod.EXAMPLES[name]["axes"]
    term = trace(getattr(mod, name), axes)
    assert main(["trace", os.path.join(ROOT, f"{rel}:{name}"), "--axes", axes]) == 0
    assert parse(capsys.readouterr().out.strip()) is term
    assert main(["trace", os.path.join(ROOT, f"{rel}:{name}"), "--axes", axes, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert term_from_json(out["term"]) is term
    assert out["axes"] == {k: list(v) for k, v in
                           axes_for_function(getattr(mod, name), axes).items()}


def test_readme_command_target():
    """The README's first command proves this exact function and axes."""
    t = trace(MODULES["examples/attention.py"].spherical, "q: b h i d, k: b h j d, v: b h j e")
    assert t.axes == ("b", "h", "i", "e")
