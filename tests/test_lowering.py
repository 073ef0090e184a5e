"""Generated Triton kernels under the interpreter (CPU) against float64 PyTorch references.

Hand-written stream forms keep these fast; tests/test_lowering_examples.py runs the proven
examples.  fp32 and fp16 only: the interpreter is wrong for bf16.
"""
import os

os.environ["TRITON_INTERPRET"] = "1"  # before triton is imported anywhere

import itertools
import math

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # padded rows: 0/0, never stored
import torch
from hypothesis import given, settings, strategies as st

from wirefuse.rewrite.errors import UserError
from wirefuse.kernels.export import load_module, module_source
from wirefuse.rewrite.ir.sexpr import parse
from wirefuse.theorems.stream import StreamForm, decompose

AX = {"q": ("b", "h", "i", "d"), "k": ("b", "h", "j", "d"), "v": ("b", "h", "j", "e")}
S = "(mul 0.25 (sum@d (mul q[b,h,i,d] k[b,h,j,d])))"
SPHERICAL = f"(layout@b,h,i,e (div (sum@j (mul {S} v[b,h,j,e])) " \
            f"(sqrt (add (sum@j (square {S})) 1e-6))))"
SOFTMAX = f"(layout@b,h,i,e (div (sum@j (mul (exp {S}) v[b,h,j,e])) (sum@j (exp {S}))))"
_names = itertools.count()


def build(tmp_path, sexpr, shift=None, params=("q", "k", "v"), axes=None, causal=None,
          config=None):
    """Generate and import a module for a hand-written normal-form term; returns (fn, module)."""
    sf = decompose(parse(sexpr), "j")
    if shift is not None:
        sf = StreamForm(sf.axis, sf.components, sf.tail, parse(shift))
    name = f"hand{next(_names)}"
    src = module_source(name, list(params), axes or AX, sf, parse(sexpr), causal=causal,
                        config=config)
    path = tmp_path / f"{name}.py"
    path.write_text(src)
    mod = load_module(str(path))
    return getattr(mod, name), mod


def ref_attention(q, k, v, weight, norm=None, mask=None):
    """Plain float64 torch: Σ_j weight(s)·v / norm(Σ_j ...), s = q·k / 4."""
    q, k, v = q.double(), k.double(), v.double()
    s = q @ k.transpose(-1, -2) * 0.25
    w = weight(s)
    if mask is not None:
        w = w.masked_fill(~mask, 0.0)
    out = w @ v
    return out if norm is None else out / norm(w, s)


def rand(*shape, scale=1.0, dtype=torch.float32):
    return (torch.randn(*shape, dtype=torch.float64) * scale).to(dtype)


def close(out, ref, tol):
    err = (out.double() - ref).abs().max().item()
    assert err <= tol * max(1.0, ref.abs().max().item()), err


@pytest.fixture(scope="module")
def spherical(tmp_path_factory):
    return build(tmp_path_factory.mktemp("sph"), SPHERICAL)


@pytest.fixture(scope="module")
def softmax(tmp_path_factory):
    return build(tmp_path_factory.mktemp("sm"), SOFTMAX, shift=S)


def sph_ref(q, k, v):
    return ref_attention(q, k, v, lambda s: s,
                         lambda w, s: torch.sqrt((s * s).sum(-1, keepdim=True) + 1e-6))


def softmax_ref(q, k, v):
    return torch.softmax(q.double() @ k.double().transpose(-1, -2) * 0.25, -1) @ v.double()


@settings(max_examples=8, deadline=None)
@given(i=st.integers(1, 40), j=st.integers(1, 70), d=st.sampled_from([8, 16, 20]),
       e=st.sampled_from([4, 16]), bm=st.sampled_from([16, 32]), bn=st.sampled_from([16, 32]),
       splits=st.sampled_from([1, 3]))
def test_spherical_shapes(spherical, i, j, d, e, bm, bn, splits):
    fn, mod = spherical
    mod.CONFIG = dict(mod.CONFIG, block_m=bm, block_n=bn, splits=splits)
    q, k, v = rand(2, 1, i, d), rand(2, 1, j, d), rand(2, 1, j, e)
    close(fn(q, k, v), sph_ref(q, k, v), 1e-5)


@settings(max_examples=8, deadline=None)
@given(i=st.integers(1, 33), j=st.integers(1, 70), scale=st.sampled_from([1.0, 30.0, 300.0]),
       splits=st.sampled_from([1, 2, 5]))
def test_softmax_shapes_and_large_scores(softmax, i, j, scale, splits):
    """Scores up to ~10^4: e^s overflows fp32 without the running max; the kernel must not."""
    fn, mod = softmax
    mod.CONFIG = dict(mod.CONFIG, block_m=16, block_n=16, splits=splits)
    q, k, v = rand(1, 2, i, 16, scale=scale), rand(1, 2, j, 16), rand(1, 2, j, 8)
    out = fn(q, k, v)
    assert torch.isfinite(out).all()
    close(out, softmax_ref(q, k, v), 1e-5 * max(1.0, scale / 10))  # fp32 scores ~ 10^3: ulp ~ 10^-4


def test_no_shift_means_no_rescaling(tmp_path):
    """The same components without a proven shift: no running max in the source, and huge
    scores then overflow (that is the reference's e^s too, not a kernel bug)."""
    fn, mod = build(tmp_path, SOFTMAX, shift=None)
    src = open(mod.__file__).read()
    assert "run_max" not in src and "run_max" in open(build(tmp_path, SOFTMAX, S)[1].__file__).read()
    q, k, v = rand(1, 1, 5, 16, scale=300.0), rand(1, 1, 7, 16), rand(1, 1, 7, 8)
    assert not torch.isfinite(fn(q, k, v)).all()


def test_fp16(spherical, softmax):
    for (fn, mod), ref in ((spherical, sph_ref), (softmax, softmax_ref)):
        mod.CONFIG = dict(mod.CONFIG, block_m=16, block_n=16, splits=1)
        q, k, v = (rand(2, 2, 21, 16, dtype=torch.float16), rand(2, 2, 37, 16, dtype=torch.float16),
                   rand(2, 2, 37, 16, dtype=torch.float16))
        out = fn(q, k, v)
        assert out.dtype == torch.float16
        close(out, ref(q, k, v), 1e-2)


def test_split_combine_takes_its_own_row_blocks(softmax):
    """The combine runs COMBINE_ROWS rows a program whatever the stream kernel's BLOCK_M: at
    BLOCK_M 64 and 70 queries (two stream row blocks, five combine row blocks, the last one
    partial), every row of the split result matches the float64 reference."""
    fn, mod = softmax
    assert mod.COMBINE_ROWS == 16
    mod.CONFIG = dict(mod.CONFIG, block_m=64, block_n=16, splits=3)
    q, k, v = rand(1, 2, 70, 16, scale=10.0), rand(1, 2, 45, 16), rand(1, 2, 45, 8)
    close(fn(q, k, v), softmax_ref(q, k, v), 1e-5)


def test_split_equals_unsplit(softmax):
    fn, mod = softmax
    q, k, v = rand(2, 2, 3, 16, scale=10.0), rand(2, 2, 150, 16), rand(2, 2, 150, 8)
    outs = []
    for p in (1, 2, 4, 7):
        mod.CONFIG = dict(mod.CONFIG, block_m=16, block_n=16, splits=p)
        outs.append(fn(q, k, v))
    for o in outs[1:]:
        assert torch.allclose(o, outs[0], atol=1e-6, rtol=1e-5)


def test_strides_mask_and_bias(tmp_path):
    """Non-contiguous q/k/v, a broadcast (stride-0) bias over h i j and a boolean key mask."""
    u = f"(where (not mask[b,j]:bool) -inf (add {S} bias[h,i,j]))"
    term = f"(layout@b,h,i,e (div (sum@j (mul (exp {u}) v[b,h,j,e])) (sum@j (exp {u}))))"
    axes = dict(AX, mask=("b", "j"), bias=("h", "i", "j"))
    fn, mod = build(tmp_path, term, shift=u, params=("q", "k", "v", "mask", "bias"), axes=axes)
    mod.CONFIG = dict(mod.CONFIG, block_m=16, block_n=16)
    q = rand(2, 19, 3, 16).transpose(1, 2)           # (b, h, i, d) view of (b, i, h, d)
    k = rand(2, 3, 16, 23).transpose(2, 3)
    v = rand(2, 3, 23, 8)[..., ::1].contiguous().transpose(2, 3).contiguous().transpose(2, 3)
    bias = rand(1, 19, 23).expand(3, 19, 23)
    mask = torch.rand(2, 23) < 0.7
    mask[:, 0] = True  # every row keeps one key
    s = q.double() @ k.double().transpose(-1, -2) * 0.25 + bias.double()
    s = s.masked_fill(~mask[:, None, None, :], -math.inf)
    ref = torch.softmax(s, -1) @ v.double()
    close(fn(q, k, v, mask, bias), ref, 1e-5)


CAUSAL_U = f"(where (not mask[i,j]:bool) -inf {S})"
CAUSAL = (f"(layout@b,h,i,e (div (sum@j (mul (exp {CAUSAL_U}) v[b,h,j,e])) "
          f"(sum@j (exp {CAUSAL_U}))))")


@pytest.mark.parametrize("splits", [1, 3])
def test_causal_skips_blocks(tmp_path, splits):
    axes = dict(AX, mask=("i", "j"))
    fn, mod = build(tmp_path, CAUSAL, shift=CAUSAL_U, params=("q", "k", "v", "mask"),
                    axes=axes, causal="mask", config=dict(block_m=16, block_n=16, splits=splits))
    assert "skip them" in open(mod.__file__).read()
    n = 45
    q, k, v = rand(1, 2, n, 16, scale=20.0), rand(1, 2, n, 16), rand(1, 2, n, 8)
    mask = torch.ones(n, n, dtype=torch.bool).tril()
    s = (q.double() @ k.double().transpose(-1, -2) * 0.25).masked_fill(~mask, -math.inf)
    close(fn(q, k, v, mask), torch.softmax(s, -1) @ v.double(), 1e-5)


def test_causal_kernel_refuses_a_mask_that_is_not_causal(tmp_path):
    """The kernel computes j ≤ i from indices; any other mask must be refused, not ignored,
    including one made non-causal in place after it was accepted."""
    fn, mod = build(tmp_path, CAUSAL, shift=CAUSAL_U, params=("q", "k", "v", "mask"),
                    axes=dict(AX, mask=("i", "j")), causal="mask",
                    config=dict(block_m=16, block_n=16, splits=1))
    n = 20
    q, k, v = rand(1, 2, n, 16), rand(1, 2, n, 16), rand(1, 2, n, 8)
    mask = torch.ones(n, n, dtype=torch.bool).tril()
    fn(q, k, v, mask)  # accepted
    with pytest.raises(mod.InputError, match="argument mask: .*causal"):
        fn(q, k, v, torch.ones(n, n, dtype=torch.bool))
    mask[0, 5] = True  # in place: the verified version no longer holds
    with pytest.raises(mod.InputError, match="argument mask"):
        fn(q, k, v, mask)


def test_causal_refused_when_masked_keys_contribute(tmp_path):
    """sigmoid(where(mask, s, 0)) is 1/2 on masked keys: skipping them would be wrong."""
    body = f"(mul (sigmoid (where mask[i,j]:bool {S} 0.0)) v[b,h,j,e])"
    with pytest.raises(UserError, match="cannot be skipped"):
        build(tmp_path, f"(layout@b,h,i,e (sum@j {body}))", params=("q", "k", "v", "mask"),
              axes=dict(AX, mask=("i", "j")), causal="mask")


def test_row_output_and_max_state(tmp_path):
    """A result without a value axis (log Σ e^s) and a max component (Σ s·v / max |s|)."""
    fn, mod = build(tmp_path, f"(layout@b,h,i (log (sum@j (exp {S}))))", params=("q", "k"))
    q, k = rand(1, 2, 9, 16), rand(1, 2, 30, 16)
    s = q.double() @ k.double().transpose(-1, -2) * 0.25
    close(fn(q, k), torch.logsumexp(s, -1), 1e-5)
    fn, mod = build(tmp_path, f"(layout@b,h,i,e (div (sum@j (mul {S} v[b,h,j,e])) "
                              f"(max@j (abs {S}))))")
    v = rand(1, 2, 30, 8)
    close(fn(q, k, v), (s @ v.double()) / s.abs().amax(-1, keepdim=True), 1e-5)


def test_unsupported_is_one_line(tmp_path):
    """A reduction over a group axis inside a body (a softmax over heads) is not generated."""
    heads = f"(div (exp {S}) (sum@h (exp {S})))"
    with pytest.raises(UserError) as e:
        build(tmp_path, f"(layout@b,h,i,e (sum@j (mul {heads} v[b,h,j,e])))")
    assert "\n" not in str(e.value) and "reduction over h" in str(e.value)


# --- column statistics: reductions over the query axis i inside a body (lowering.loopnest.colstats) ---
COLUMN = f"(layout@b,h,i,e (sum@j (mul (div (exp {S}) (sum@i (exp {S}))) v[b,h,j,e])))"
_MAX_I = f"(max@i {S})"
COLUMN_SHIFTED = (f"(layout@b,h,i,e (sum@j (mul (div (exp (sub {S} {_MAX_I})) "
                  f"(sum@i (exp (sub {S} {_MAX_I})))) v[b,h,j,e])))")


def column_ref(q, k, v):
    return torch.softmax(q.double() @ k.double().transpose(-1, -2) * 0.25, -2) @ v.double()


@settings(max_examples=6, deadline=None)
@given(i=st.integers(1, 40), j=st.integers(1, 45), shifted=st.booleans(),
       splits=st.sampled_from([1, 2, 3]))
def test_column_softmax_shapes(tmp_path_factory, i, j, shifted, splits):
    """Odd sizes, split-KV off and on; the unshifted form (Σ_i e^s: one pre-pass level) and the
    shifted one (max_i s and Σ_i e^(s − max) folded online in one pre-pass)."""
    fn, mod = _column(tmp_path_factory, shifted)
    mod.CONFIG = dict(mod.CONFIG, block_m=16, block_n=16, splits=splits)
    q, k, v = rand(2, 1, i, 16), rand(2, 1, j, 16), rand(2, 1, j, 8)
    close(fn(q, k, v), column_ref(q, k, v), 1e-5)


_columns = {}


def _column(tmp_path_factory, shifted):
    if shifted not in _columns:
        _columns[shifted] = build(tmp_path_factory.mktemp("col"),
                                  COLUMN_SHIFTED if shifted else COLUMN)
    return _columns[shifted]


def test_column_softmax_online_prepass_survives_large_scores(tmp_path_factory):
    """Scores ~±10^3: e^s overflows fp32, so the statistics must be shifted; the online
    pre-pass keeps every exponent ≤ 0 (one pre-pass kernel), the unshifted term overflows."""
    fn, mod = _column(tmp_path_factory, True)
    src = open(mod.__file__).read()
    assert "_colstat_kernel_0" in src and "_colstat_kernel_1" not in src
    q, k, v = rand(1, 2, 21, 16, scale=300.0), rand(1, 2, 19, 16), rand(1, 2, 19, 8)
    for splits in (1, 3):
        mod.CONFIG = dict(mod.CONFIG, block_m=16, block_n=16, splits=splits)
        out = fn(q, k, v)
        assert torch.isfinite(out).all()
        close(out, column_ref(q, k, v), 1e-4)
    plain, pmod = _column(tmp_path_factory, False)
    pmod.CONFIG = dict(pmod.CONFIG, block_m=16, block_n=16, splits=1)
    assert not torch.isfinite(plain(q, k, v)).all()  # the term's own e^s, not a kernel bug


def test_column_statistics_in_levels_mask_and_fp16(tmp_path):
    """A statistic that does not fold online (Σ_i (s − max_i s)², over the max) takes a second
    pre-pass level; a boolean (i, j) mask read inside the statistics; fp16 inputs."""
    u = f"(where mask[i,j]:bool {S} -inf)"
    sq = f"(square (sub {S} (max@i {u})))"
    term = (f"(layout@b,h,i,e (sum@j (mul (div (exp (sub {u} (max@i {u}))) "
            f"(sum@i (exp (sub {u} (max@i {u}))))) (div {sq} (sum@i {sq})) v[b,h,j,e])))")
    fn, mod = build(tmp_path, term, params=("q", "k", "v", "mask"),
                    axes=dict(AX, mask=("i", "j")), config=dict(block_m=16, block_n=16))
    assert "_colstat_kernel_1" in open(mod.__file__).read()
    n_i, n_j = 23, 29
    mask = torch.rand(n_i, n_j, generator=torch.Generator().manual_seed(3)) < 0.6
    mask[0] = True  # every key keeps one row

    def ref(q, k, v):
        s = q.double() @ k.double().transpose(-1, -2) * 0.25
        p = torch.softmax(s.masked_fill(~mask, -math.inf), -2)
        t = (s - s.masked_fill(~mask, -math.inf).amax(-2, keepdim=True)) ** 2
        return (p * t / t.sum(-2, keepdim=True)) @ v.double()
    for dtype, tol in ((torch.float32, 1e-5), (torch.float16, 2e-2)):
        q, k, v = (rand(2, 2, n_i, 16, dtype=dtype), rand(2, 2, n_j, 16, dtype=dtype),
                   rand(2, 2, n_j, 8, dtype=dtype))
        for splits in (1, 2):
            mod.CONFIG = dict(mod.CONFIG, splits=splits)
            close(fn(q, k, v, mask), ref(q, k, v), tol)


def test_column_statistic_of_an_empty_column_is_nan_as_in_torch(tmp_path):
    """A key whose whole column is masked: softmax over i of −∞ everywhere is NaN in torch, and
    NaN weights make every output NaN; the online pre-pass must not turn that into a number."""
    u = f"(where mask[i,j]:bool {S} -inf)"
    term = (f"(layout@b,h,i,e (sum@j (mul (div (exp (sub {u} (max@i {u}))) "
            f"(sum@i (exp (sub {u} (max@i {u}))))) v[b,h,j,e])))")
    fn, mod = build(tmp_path, term, params=("q", "k", "v", "mask"),
                    axes=dict(AX, mask=("i", "j")), config=dict(block_m=16, block_n=16))
    q, k, v = rand(1, 1, 5, 16), rand(1, 1, 6, 16), rand(1, 1, 6, 8)
    mask = torch.ones(5, 6, dtype=torch.bool)
    mask[:, 4] = False
    s = (q.double() @ k.double().transpose(-1, -2) * 0.25).masked_fill(~mask, -math.inf)
    ref = torch.softmax(s, -2) @ v.double()
    assert ref.isnan().all()
    assert fn(q, k, v, mask).isnan().all()


def test_column_statistics_refusals(tmp_path):
    """A reduction over i that is not per key, and causal skipping with statistics, say why in
    one line."""
    row_only = f"(max@i (sum@d (mul q[b,h,i,d] q[b,h,i,d])))"
    for term, kw, msg in [
            (f"(layout@b,h,i,e (sum@j (mul (div {S} {row_only}) v[b,h,j,e])))", {},
             "column statistic must be over exactly"),
            (f"(layout@b,h,i,e (sum@j (mul (div (exp (where mask[i,j]:bool {S} -inf)) "
             f"(sum@i (exp (where mask[i,j]:bool {S} -inf)))) v[b,h,j,e])))",
             dict(params=("q", "k", "v", "mask"), axes=dict(AX, mask=("i", "j")),
                  causal="mask"), "without --causal")]:
        with pytest.raises(UserError, match=msg) as e:
            build(tmp_path, term, **kw)
        assert "\n" not in str(e.value)


# --- GQA / MQA: query-head axes that the key side lacks become group axes ---------------------
def _gqa_term(qa, ka, out):
    s = f"(mul 0.25 (sum@d (mul q[{qa}] k[{ka}])))"
    va = ka.replace(",d", ",e")
    return (f"(layout@{out} (div (sum@j (mul (exp {s}) v[{va}])) (sum@j (exp {s}))))", s)


@pytest.mark.parametrize("layout", ["gqa", "mqa"])
def test_shared_kv_heads(tmp_path, layout):
    """GQA (k, v over b g j: r query heads per group) and MQA (k, v over b j): the row axis is
    i (the last axis k lacks, in output order), r / h are group axes that k and v do not index;
    k and v given as strided views, odd sizes, split-KV off and on."""
    if layout == "gqa":
        term, s = _gqa_term("b,g,r,i,d", "b,g,j,d", "b,g,r,i,e")
        axes = {"q": ("b", "g", "r", "i", "d"), "k": ("b", "g", "j", "d"), "v": ("b", "g", "j", "e")}
        q, k, v = rand(2, 2, 3, 19, 16), rand(2, 2, 16, 37).transpose(2, 3), rand(2, 2, 37, 8)
        ref = torch.softmax(q.double() @ k.double()[:, :, None].transpose(-1, -2) * 0.25,
                            -1) @ v.double()[:, :, None]
    else:
        term, s = _gqa_term("b,h,i,d", "b,j,d", "b,h,i,e")
        axes = {"q": ("b", "h", "i", "d"), "k": ("b", "j", "d"), "v": ("b", "j", "e")}
        q, k, v = rand(2, 3, 19, 16), rand(2, 16, 37).transpose(1, 2), rand(2, 37, 8)
        ref = torch.softmax(q.double() @ k.double()[:, None].transpose(-1, -2) * 0.25,
                            -1) @ v.double()[:, None]
    fn, mod = build(tmp_path, term, shift=s, axes=axes, config=dict(block_m=16, block_n=16))
    src = open(mod.__file__).read()
    assert "k_s_r" not in src and "k_s_h" not in src and "v_s_h" not in src
    for splits in (1, 2, 3):
        mod.CONFIG = dict(mod.CONFIG, splits=splits)
        close(fn(q, k, v), ref, 1e-5)


def test_row_axis_is_the_last_one_the_keys_lack(tmp_path):
    """Two query-only axes: the one later in the output order is the row axis (rule in
    lowering.loopnest.nest); the other is a group axis."""
    from wirefuse.lowering.loopnest.nest import build_loopnest
    term, _ = _gqa_term("b,g,r,i,d", "b,g,j,d", "b,g,r,i,e")
    nest = build_loopnest(decompose(parse(term), "j"))
    assert (nest.row, nest.group) == ("i", ("b", "g", "r"))
    term, _ = _gqa_term("b,g,r,i,d", "b,g,j,d", "b,g,i,r,e")
    nest = build_loopnest(decompose(parse(term), "j"))
    assert (nest.row, nest.group) == ("r", ("b", "g", "i"))


def test_bad_inputs(spherical, monkeypatch):
    fn, mod = spherical
    q, k, v = rand(1, 2, 5, 16), rand(1, 2, 7, 16), rand(1, 2, 7, 8)
    cases = [((q[0], k, v), "argument q: expected 4 dims"),
             ((q, rand(1, 2, 8, 16), v), "argument v: axis j has size 7 but k gives 8"),
             ((q, k, rand(1, 3, 7, 8)), "argument v: axis h has size 3"),
             ((q.int(), k, v), "argument q: dtype torch.int32 is not supported"),
             ((q, k.half(), v), "argument k: dtype torch.float16 differs")]
    for args, msg in cases:
        with pytest.raises(mod.InputError, match=msg) as e:
            fn(*args)
        assert "\n" not in str(e.value)
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(mod.InputError, match="argument q: tensor on cpu"):
        fn(q, k, v)


def test_custom_op_compiles_fullgraph(spherical):
    """torch.compile(fullgraph=True) traces through the fake implementation (aot_eager on CPU:
    inductor's CPU compile takes minutes here; the GPU tests use inductor)."""
    fn, mod = spherical
    mod.CONFIG = dict(mod.CONFIG, block_m=16, block_n=16, splits=1)
    q, k, v = rand(1, 2, 20, 16), rand(1, 2, 20, 16), rand(1, 2, 20, 8)

    def g(q, k, v):
        return fn(q, k, v) * 2 + 1

    out = torch.compile(g, fullgraph=True, backend="aot_eager")(q, k, v)
    close(out, sph_ref(q, k, v) * 2 + 1, 1e-5)
    assert torch.ops.wirefuse.__getattr__(fn.__name__) is not None


def test_eager_fast_path_agrees_with_the_op(spherical, monkeypatch):
    """Plain eager calls skip the custom op's Python dispatch; the result is the op's, and
    anything the op must see (fake tensors, autograd) still goes through it."""
    fn, mod = spherical
    q, k, v = rand(1, 2, 9, 16), rand(1, 2, 11, 16), rand(1, 2, 11, 8)
    direct = fn(q, k, v)
    via_op = getattr(torch.ops.wirefuse, fn.__name__)(q, k, v)
    assert torch.equal(direct, via_op)
    close(direct, sph_ref(q, k, v), 1e-5)
    from torch._subclasses.fake_tensor import FakeTensorMode

    def no_launch(*a):
        raise AssertionError("a fake call must not launch the kernel")
    monkeypatch.setattr(mod, "_launch", no_launch)
    with FakeTensorMode() as m:
        out = fn(m.from_tensor(q), m.from_tensor(k), m.from_tensor(v))
    assert tuple(out.shape) == (1, 2, 9, 8)
    assert not mod._plain_eager((q.requires_grad_(), k, v))


def test_jit_trace_records_the_op(spherical):
    """torch.jit.trace must record the custom op, not the kernel launch (the eager fast path
    would leave only the output's allocation in the graph)."""
    fn, mod = spherical
    q, k, v = rand(1, 2, 9, 16), rand(1, 2, 11, 16), rand(1, 2, 11, 8)
    traced = torch.jit.trace(fn, (q, k, v), check_trace=False)
    assert f"wirefuse::{fn.__name__}" in str(traced.graph)
    q2 = rand(1, 2, 9, 16)
    close(traced(q2, k, v), sph_ref(q2, k, v), 1e-5)


def test_host_helpers_agree_with_triton():
    """The generated launcher's host-side _cdiv / _next_pow2 (triton.cdiv and
    triton.next_power_of_2 cost µs per host call in recent Triton) compute the same."""
    import triton
    from wirefuse.lowering.codegen.emit import HELPERS
    ns = {}
    exec(HELPERS.split("@triton.jit")[0], ns)
    for n in list(range(1, 300)) + [1023, 1024, 1025, 65535, 65536, 65537, 10 ** 6]:
        assert ns["_next_pow2"](n) == triton.next_power_of_2(n), n
        for b in (1, 16, 64, 128):
            assert ns["_cdiv"](n, b) == triton.cdiv(n, b) == -(-n // b), (n, b)
    assert ns["_cdiv"](0, 64) == 0
