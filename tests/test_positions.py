"""Positions as terms (`Pos`, printed #j): the leaf, the tracer's arange/tril/triu/ones forms, the
stream form and the checker with positions along the stream axis (a chunk's positions are its
global indices), causal recognition, and kernels.  References are plain PyTorch in float64."""
import itertools
import json
import math
import pickle

import pytest
import torch
from hypothesis import given, settings, strategies as st

import wirefuse
from wirefuse.rewrite.errors import AxisSpecError, UserError
from wirefuse.kernels.export import load_module, module_source
from wirefuse.lowering.loopnest.causal import causal_value, half_line
from wirefuse.theorems import checker as check_mod
from wirefuse.theorems.checker import check_certificate
from wirefuse.rewrite.ir.evaluate import evaluate, evaluate_labelled
from wirefuse.rewrite.ir.graph import to_networkx
from wirefuse.search.pathfind import find_path
from wirefuse.rewrite.ir.sexpr import parse, to_sexpr
from wirefuse.rewrite.ir.serialize import term_from_json, term_to_json
from wirefuse.rewrite.ir.term import Opaque, Pos
from wirefuse.theorems.certificate import make_certificate
from wirefuse.theorems.stream import NotNormal, StreamForm, decompose

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
AXES = "q: b h i d, k: b h j d, v: b h j e"


def rand(*shape, scale=1.0, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)


# --- the leaf ------------------------------------------------------------------------------------
def test_pos_leaf_round_trips_and_evaluates():
    t = parse("(where (le #j #i) s[i,j] -inf)")
    assert Pos("j") is Pos("j") and Pos("j").axes == ("j",) and Pos("j").dtype == "float"
    assert to_sexpr(Pos("j")) == "#j" and parse(to_sexpr(t)) is t
    assert term_from_json(json.loads(json.dumps(term_to_json(t)))) is t
    assert pickle.loads(pickle.dumps(t)) is t
    assert "#j" in {d["label"] for _, d in to_networkx(t).nodes(data=True)}
    s = torch.randn(3, 5, dtype=torch.float64)
    want = s.masked_fill(~torch.ones(3, 5, dtype=torch.bool).tril(), -math.inf)
    assert torch.equal(evaluate(parse("(layout@i,j (where (le #j #i) s[i,j] -inf))"), s=s), want)
    # a chunk lo..hi of j sees its global positions
    got = evaluate_labelled(parse("(layout@i,j (where (le #j #i) s[i,j] -inf))"), {"s": s[:, 2:4]},
                            offsets={"j": 2}).t
    assert torch.equal(got, want[:, 2:4])


def test_pos_in_the_egraph_round_trips():
    pytest.importorskip("egglog")
    from wirefuse.search.egraph import EGraph, SerializedGraph, encode
    from wirefuse.search.extract import extract_smallest
    t = parse("(sum@j (mul (exp (sub s[i,j] (abs (sub #i #j)))) v[j,e]))")
    eg = EGraph()
    encode(t, eg)
    g = SerializedGraph.of(eg)
    assert extract_smallest(g, g.root()) is t


# --- the tracer ----------------------------------------------------------------------------------
def causal_tril(q, k, v):
    s = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    mask = torch.tril(torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device))
    return torch.softmax(s.masked_fill(~mask, float("-inf")), dim=-1) @ v


def causal_float_method(q, k, v):
    s = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    n, m = q.shape[-2], k.shape[-2]
    mask = torch.ones(n, m).tril()
    return torch.softmax(s.masked_fill(mask == 0, float("-inf")), dim=-1) @ v


def causal_compare(q, k, v):
    s = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    i = torch.arange(q.shape[-2], device=q.device)
    j = torch.arange(k.shape[-2], device=q.device)
    return torch.softmax(s.masked_fill(j[None, :] > i[:, None], float("-inf")), dim=-1) @ v


def causal_triu(q, k, v):
    s = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    future = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).triu(diagonal=1)
    return torch.softmax(s.masked_fill(future, float("-inf")), dim=-1) @ v


def alibi_arange(q, k, v, slopes):
    s = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    i = torch.arange(q.shape[-2], device=q.device)
    j = torch.arange(k.shape[-2], device=q.device)
    s = s - slopes[:, None, None] * (i[:, None] - j[None, :]).abs()
    return torch.softmax(s, dim=-1) @ v


def position_weights(q, k, v):
    """Positions from 1 (arange(1, n + 1)) and from a prefix count of ones (ones.cumsum − 1)."""
    s = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    r = torch.arange(1, k.shape[-2] + 1, dtype=q.dtype)
    c = torch.ones(k.shape[-2]).cumsum(0) - 1
    return (torch.sigmoid(s) * r / (1 + c)) @ v


def window(q, k, v):
    """A band j ∈ [i − 2, i] (tril and triu): masked, but not the causal mask itself."""
    s = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    ones = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool)
    band = ones.tril() & ones.triu(diagonal=-2)
    return torch.softmax(s.masked_fill(~band, float("-inf")), dim=-1) @ v


FORMS = [causal_tril, causal_float_method, causal_compare, causal_triu, alibi_arange,
         position_weights, window]


def _args(fn, ni, nj, seed=0):
    out = [rand(2, 3, ni, 8, seed=seed), rand(2, 3, nj, 8, seed=seed + 1),
           rand(2, 3, nj, 4, seed=seed + 2)]
    if fn is alibi_arange:
        out.append(rand(3, seed=seed + 3).abs())
    return out


def _axes(fn):
    return AXES + (", slopes: h" if fn is alibi_arange else "")


@pytest.mark.parametrize("fn", FORMS, ids=lambda f: f.__name__)
def test_traced_positions_match_torch(fn):
    t = wirefuse.trace(fn, _axes(fn))
    assert not any(isinstance(x, Opaque) for x in t.walk()), t  # positions are leaves now
    assert any(isinstance(x, Pos) for x in t.walk())
    for ni, nj in ((5, 5), (3, 7), (6, 2)):  # |i| ≠ |j| too: top-left aligned, as torch.tril
        args = _args(fn, ni, nj)
        names = ["q", "k", "v", "slopes"][:len(args)]
        got = evaluate(t, **dict(zip(names, args)))
        want = fn(*args)
        fin = torch.isfinite(want)
        assert torch.equal(fin, torch.isfinite(got)) and torch.allclose(got[fin], want[fin])


def test_square_ones_from_one_size_says_which_size_to_use():
    def square(q, k, v):
        n = q.shape[-2]
        mask = torch.ones(n, n).tril()
        return torch.softmax((q @ k.mT).masked_fill(mask == 0, float("-inf")), dim=-1) @ v
    with pytest.raises(AxisSpecError, match=r"\|i\| = \|j\|.*k\.shape\[-2\]") as e:
        wirefuse.trace(square, AXES)
    assert "\n" not in str(e.value)


# --- the stream form and the checker -------------------------------------------------------------
def test_positions_along_the_stream_axis_are_local_but_not_in_the_tail():
    sf = decompose(parse("(sum@j (mul (exp (sub s[i,j] #j)) v[j,e]))"), "j")
    assert sf.components[0].body is parse("(mul (exp (sub s[i,j] #j)) v[j,e])")
    with pytest.raises(NotNormal, match="grows with j"):
        decompose(parse("(add (sum@j s[i,j]) #j)"), "j")
    with pytest.raises(NotNormal, match="renames"):
        decompose(parse("(sum@j (mul s[i,j] (rename@j:k #j)))"), "j")


ALIBI = ("(layout@i,e (sum@j (mul (div (exp (sub s[i,j] (mul 0.7 (abs (sub #i #j))))) "
         "(sum@j (exp (sub s[i,j] (mul 0.7 (abs (sub #i #j))))))) v[j,e])))")
WEIGHTED = "(layout@i,e (sum@j (mul s[i,j] #j v[j,e])))"


def _certificate(src):
    t = parse(src)
    return make_certificate(t, "j", find_path(t, "j"))


@pytest.mark.parametrize("src", [ALIBI, WEIGHTED])
def test_checker_accepts_positions_and_needs_global_chunk_positions(src, monkeypatch):
    """The checker's random chunkings must give each chunk its global positions.  A checker that
    evaluated a chunk's positions from 0 would stream a different function: this valid
    certificate then fails its numerics, which is what the second half shows."""
    cert = _certificate(src)
    assert check_certificate(cert, numeric_trials=12).ok
    real = check_mod.evaluate_labelled

    def from_zero(term, env, sizes=None, offsets=None):  # the bug: chunk positions 0..n−1
        return real(term, env, sizes)
    monkeypatch.setattr(check_mod, "evaluate_labelled", from_zero)
    r = check_certificate(cert, numeric_trials=12)
    assert not r.ok and r.part == "numerics", r.reason


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 9), cuts=st.lists(st.integers(1, 8), max_size=4), seed=st.integers(0, 99))
def test_chunked_fold_with_positions_equals_the_whole(n, cuts, seed):
    """Σ_j over the chunks lo..hi of a body with positions (evaluated with offsets lo) is the
    Σ over all of j, for any chunking: the fold-of-concatenation the stream form rests on."""
    body = parse("(mul (exp (sub s[i,j] (mul 0.3 (abs (sub #i #j))))) v[j,e])")
    s, v = rand(3, n, seed=seed), rand(n, 2, seed=seed + 1)
    whole = evaluate_labelled(parse(f"(sum@j {to_sexpr(body)})"), {"s": s, "v": v}).t
    bounds = sorted({c for c in cuts if c < n})
    parts = torch.zeros_like(whole)
    for lo, hi in zip([0] + bounds, bounds + [n]):
        parts += evaluate_labelled(parse(f"(sum@j {to_sexpr(body)})"),
                                   {"s": s[:, lo:hi], "v": v[lo:hi]}, {"j": hi - lo},
                                   {"j": lo}).t
    assert torch.allclose(parts, whole)


def test_cumsum_of_scores_stays_refused():
    def cumsum_scores(q, k, v):
        s = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
        return torch.softmax(s.cumsum(-1), dim=-1) @ v
    p = wirefuse.prove(cumsum_scores, axes=AXES, stream="j")
    assert not p.streamable and "cumsum over j" in p.reason


@pytest.mark.parametrize("fn", [causal_compare, causal_triu, window], ids=lambda f: f.__name__)
def test_other_position_forms_are_proven(fn):
    p = wirefuse.prove(fn, axes=_axes(fn), stream="j")
    assert p.streamable, p.reason
    assert any(isinstance(x, Pos) for c in p.stream_form.components for x in c.body.walk())


# --- causal recognition --------------------------------------------------------------------------
COEF = st.sampled_from([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
CONST = st.sampled_from([-2.0, -1.5, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0])


def _affine_src(a, b, c):
    return f"(add (mul {a} #i) (mul {b} #j) {c})"


@settings(max_examples=300, deadline=None)
@given(a=COEF, b=COEF, c=CONST, a2=COEF, b2=COEF, c2=CONST,
       op=st.sampled_from(["le", "lt", "ge", "gt"]), wrap=st.sampled_from(["", "not", "float"]))
def test_half_line_agrees_with_brute_force(a, b, c, a2, b2, c2, op, wrap):
    src = f"({op} {_affine_src(a, b, c)} {_affine_src(a2, b2, c2)})"
    if wrap == "not":
        src = f"(not {src})"
    elif wrap == "float":
        src = f"(eq (float {src}) 0.0)"
    t = parse(src)
    n = 12
    i = torch.arange(n, dtype=torch.float64)[:, None]
    j = torch.arange(n, dtype=torch.float64)[None, :]
    val = evaluate(parse(f"(layout@i,j {src})"), sizes={"i": n, "j": n}) \
        if set(t.axes) == {"i", "j"} else None
    h = half_line(t, "i", "j")
    if h is not None:
        assert val is not None
        want = (j - i <= h[1]) if h[0] == "le" else (j - i >= h[1])
        assert torch.equal(val.bool(), want.expand(n, n)), (src, h)
    v = causal_value(t, "i", "j")
    if v is not None:
        assert torch.equal(val.bool(), (j <= i) if v else (j > i)), src


# --- kernels -------------------------------------------------------------------------------------
AX = {"q": ("b", "h", "i", "d"), "k": ("b", "h", "j", "d"), "v": ("b", "h", "j", "e"),
      "slopes": ("h",)}
S = "(mul 0.25 (sum@d (mul q[b,h,i,d] k[b,h,j,d])))"
_names = itertools.count()


def softmax_of(u):
    return (f"(layout@b,h,i,e (div (sum@j (mul (exp {u}) v[b,h,j,e])) (sum@j (exp {u}))))",
            u)


def build(tmp_path, sexpr, shift, params=("q", "k", "v"), splits=1):
    sf = decompose(parse(sexpr), "j")
    if shift is not None:
        sf = StreamForm(sf.axis, sf.components, sf.tail, parse(shift))
    name = f"pos{next(_names)}"
    src = module_source(name, list(params), AX, sf, parse(sexpr),
                        config=dict(block_m=16, block_n=16, splits=splits))
    (tmp_path / f"{name}.py").write_text(src)
    return getattr(load_module(str(tmp_path / f"{name}.py")), name), src


def torch_softmax(q, k, v, bias=None, keep=None):
    s = q.double() @ k.double().transpose(-1, -2) * 0.25
    if bias is not None:
        s = s + bias
    if keep is not None:
        s = s.masked_fill(~keep, -math.inf)
    return torch.softmax(s, -1) @ v.double()


def close(out, ref, tol=2e-5):
    fin = torch.isfinite(ref)
    assert torch.equal(fin, torch.isfinite(out))
    err = (out.double()[fin] - ref[fin]).abs().max().item()
    assert err <= tol * max(1.0, ref[fin].abs().max().item()), err


MASKS = {  # u over positions -> (skips key blocks?, keep mask over (i, j) in torch)
    "tril": (f"(where (not (le (sub #j #i) 0.0)) -inf {S})", True, lambda i, j: j <= i),
    "compare": (f"(where (gt #j #i) -inf {S})", True, lambda i, j: j <= i),
    "triu1": (f"(where (ge (sub #j #i) 1.0) -inf {S})", True, lambda i, j: j <= i),
    "diag+1": (f"(where (le (sub #j #i) 1.0) {S} -inf)", False, lambda i, j: j <= i + 1),
    "strict": (f"(where (lt #j #i) {S} -inf)", False, lambda i, j: j < i),
}


@pytest.mark.parametrize("name", sorted(MASKS))
@pytest.mark.parametrize("splits", [1, 3])
def test_position_masks_in_kernels(tmp_path, name, splits):
    """The causal mask from positions skips key blocks past the diagonal (the recognised forms
    only); other masks from positions are computed per block.  With split-KV, every part sees
    its keys' global positions."""
    u, skips, keep = MASKS[name]
    fn, src = build(tmp_path, *softmax_of(u), splits=splits)
    assert ("skip them" in src) == skips
    for ni, nj in ((45, 45), (21, 50), (40, 17)):
        q, k, v = rand(1, 2, ni, 16, scale=3.0), rand(1, 2, nj, 16, seed=1), rand(1, 2, nj, 8, seed=2)
        q, k, v = q.float(), k.float(), v.float()
        i, j = torch.arange(ni)[:, None], torch.arange(nj)[None, :]
        close(fn(q, k, v), torch_softmax(q, k, v, keep=keep(i, j)))


@pytest.mark.parametrize("splits", [1, 4])
def test_alibi_from_positions_kernel(tmp_path, splits):
    u = f"(sub {S} (mul slopes[h] (abs (sub #i #j))))"
    fn, src = build(tmp_path, *softmax_of(u), params=("q", "k", "v", "slopes"), splits=splits)
    assert "skip them" not in src
    q, k, v = (rand(2, 3, 19, 16, seed=3).float(), rand(2, 3, 70, 16, seed=4).float(),
               rand(2, 3, 70, 8, seed=5).float())
    slopes = torch.tensor([0.5, 0.25, 0.125])
    i, j = torch.arange(19)[:, None].double(), torch.arange(70)[None, :].double()
    bias = -slopes.double()[:, None, None] * (i - j).abs()
    close(fn(q, k, v, slopes), torch_softmax(q, k, v, bias=bias))


def test_causal_positions_not_skipped_when_masked_keys_contribute(tmp_path):
    """sigmoid(where(#j ≤ #i, s, 0)) is 1/2 on masked keys: no skipping, still correct."""
    w = f"(sigmoid (where (le #j #i) {S} 0.0))"
    fn, src = build(tmp_path, f"(layout@b,h,i,e (sum@j (mul {w} v[b,h,j,e])))", None)
    assert "skip them" not in src
    q, k, v = rand(1, 1, 33, 16).float(), rand(1, 1, 40, 16, seed=1).float(), \
        rand(1, 1, 40, 8, seed=2).float()
    s = q.double() @ k.double().mT * 0.25
    keep = torch.arange(40)[None, :] <= torch.arange(33)[:, None]
    close(fn(q, k, v), torch.sigmoid(torch.where(keep, s, 0.0)) @ v.double())


def test_inline_examples_export_with_skipping():
    """examples/attention.py's causal_inline: proven, and its kernel skips masked key blocks."""
    from wirefuse.kernels.export import export_source
    import importlib.util
    import pathlib
    spec = importlib.util.spec_from_file_location(
        "_pos_examples", pathlib.Path(__file__).parent.parent / "examples" / "attention.py")
    A = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(A)
    src = export_source(A.causal_inline, A.EXAMPLES["causal_inline"]["axes"], "j")
    assert "skip them" in src and "mask" not in src.split("ARGS = ")[1].split("\n")[0]
    with pytest.raises(UserError):  # causal= names an input: there is none here
        export_source(A.causal_inline, A.EXAMPLES["causal_inline"]["axes"], "j", causal="mask")


# --- review findings: skipping only where it is exact; folded masks keep the tile's shape -------
def prefix_lm(q, k, v, plen):
    s = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    i = torch.arange(q.shape[-2], device=q.device)
    j = torch.arange(k.shape[-2], device=q.device)
    keep = (j[None, :] <= i[:, None]) | (j[None, None, None, :] < plen[:, None, None, None])
    return torch.softmax(s.masked_fill(~keep, float("-inf")), dim=-1) @ v


def rowbias_count(q, k, v, mask, t):
    s = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    w = torch.where(mask, torch.sigmoid(s), 0.0)
    n = torch.where(mask, t[..., None], 0.0).sum(-1, keepdim=True)   # t over (b, h, i)
    return (w @ v) / n


def _exported(fn, axes, tmp_path, **kw):
    from wirefuse.kernels.export import export_source
    src = export_source(fn, axes, "j", config=dict(block_m=16, block_n=16, splits=1), **kw)
    path = tmp_path / f"{fn.__name__}.py"
    path.write_text(src)
    return src, getattr(load_module(str(path)), fn.__name__)


def test_a_mask_that_is_causal_or_something_else_is_not_skipped(tmp_path):
    """Prefix-LM: keys before plen are visible to every row, so key blocks past the diagonal
    are not empty; skipping them (decided by sampling) dropped those keys."""
    src, fn = _exported(prefix_lm, AXES + ", plen: b", tmp_path)
    assert "skip them" not in src
    q, k, v = rand(1, 1, 40, 16), rand(1, 1, 40, 16, seed=1), rand(1, 1, 40, 8, seed=2)
    plen = torch.tensor([30.0], dtype=torch.float64)
    out = fn(q.float(), k.float(), v.float(), plen.float())
    assert torch.allclose(out.double(), prefix_lm(q, k, v, plen), atol=1e-5)


def test_a_folded_mask_keeps_the_tile_shape(tmp_path):
    """With the mask folded to true below the diagonal, where(mask, t[i], 0) is t over rows
    only: it must still be summed once per key, not once per key block."""
    src, fn = _exported(rowbias_count, AXES + ", mask: i j, t: b h i", tmp_path, causal="mask")
    assert "skip them" in src
    q, k, v = rand(1, 1, 40, 16), rand(1, 1, 40, 16, seed=1), rand(1, 1, 40, 8, seed=2)
    t = rand(1, 1, 40, seed=3).abs() + 0.5
    mask = torch.ones(40, 40, dtype=torch.bool).tril()
    out = fn(q.float(), k.float(), v.float(), mask, t.float())
    assert torch.allclose(out.double(), rowbias_count(q, k, v, mask, t), atol=1e-5)
