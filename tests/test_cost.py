"""The napkin cost model: counts against hand-derived formulas and torch's own FLOP counter,
residency limits, monotonicity, and the napkin facts of docs/theory.md §10."""
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch.utils.flop_counter import FlopCounterMode

from wirefuse.lowering.cost.model import (Rejected, fused_candidate, reference_form, term_counts,
                                          tile_traffic, unfused_candidate)
from wirefuse.lowering.cost.ranking import best_candidate, rank
from wirefuse.lowering.cost.hardware import DEVICES, get_device
from wirefuse.rewrite.ir.sexpr import parse

H100 = get_device("h100")
ATT = dict(b=1, h=16, i=4096, j=4096, d=128, e=128)


def torch_flops(fn, *shapes):
    xs = [torch.randn(*s, dtype=torch.float64) for s in shapes]
    with FlopCounterMode(display=False) as counter:
        fn(*xs)
    return counter.get_total_flops()


# ---------------------------------------------------------------------------- matmul
@pytest.mark.parametrize("I,J,K", [(64, 32, 128), (100, 37, 50), (1, 256, 3)])
def test_matmul_flops_match_torch_counter(I, J, K):
    c = term_counts(parse("(sum@j (mul a[i,j] b[j,k]))"), dict(i=I, j=J, k=K))
    assert c.tensor == torch_flops(lambda a, b: a @ b, (I, J), (J, K))
    assert c.fp32 == 0 and c.sfu == 0


@pytest.mark.parametrize("I,J,K,BM,BN", [(64, 32, 128, 16, 32), (100, 37, 50, 32, 16),
                                          (7, 5, 3, 4, 2)])
def test_matmul_tile_traffic_hand_formula(I, J, K, BM, BN):
    # A[i,j] is read once per column block of C, B[j,k] once per row block.
    got = tile_traffic({"A": ("i", "j"), "B": ("j", "k")}, dict(i=I, j=J, k=K),
                       {"i": BM, "k": BN})
    assert got == {"A": I * J * math.ceil(K / BN), "B": J * K * math.ceil(I / BM)}


@pytest.mark.parametrize("M", [4 ** 5, 4 ** 7, 4 ** 8])
def test_matmul_traffic_is_abc_over_sqrt_cache(M):
    """With the output tile t×t held in a cache of M elements (t² ≤ M), the best tile moves
    2·IJK/√M elements: the ABC/√M law (000_*.txt), one term per operand."""
    I = J = K = 4096
    best = min(sum(tile_traffic({"A": ("i", "j"), "B": ("j", "k")}, dict(i=I, j=J, k=K),
                                {"i": t, "k": t}).values())
               for t in (2 ** n for n in range(1, 13)) if t * t <= M)
    assert best == pytest.approx(2 * I * J * K / math.sqrt(M))


# ------------------------------------------------------------------------- attention
def _torch_attention(q, k, v, variant):
    s = (q @ k.transpose(-1, -2)) * 0.088
    w = torch.softmax(s, -1) if variant == "softmax" else s / s.norm(dim=-1, keepdim=True)
    return w @ v


@pytest.mark.parametrize("variant", ["softmax", "spherical"])
def test_attention_flops(variant):
    sf, term = reference_form(variant)
    sz = dict(b=2, h=3, i=40, j=56, d=16, e=8)
    c = term_counts(term, sz)
    tensor = torch_flops(lambda q, k, v: _torch_attention(q, k, v, variant),
                         (2, 3, 40, 16), (2, 3, 56, 16), (2, 3, 56, 8))
    assert c.tensor == tensor == 2 * 2 * 3 * 40 * 56 * (16 + 8)
    scores = 2 * 3 * 40 * 56
    if variant == "softmax":   # exp(s) is one node shared by numerator and denominator
        assert c.sfu == scores
    else:                      # one sqrt per output row, nothing per score
        assert c.sfu == 2 * 3 * 40


def test_attention_fused_bytes_count_rereads():
    sf, term = reference_form("spherical")
    cfg = dict(BLOCK_M=128, BLOCK_N=64, num_warps=8, num_stages=2)
    c = fused_candidate(sf, term, ATT, "bf16", H100, cfg)
    b, h, i, j, d, e = (ATT[a] for a in "bhijde")
    blocks = math.ceil(i / 128)
    want = 2 * (b * h * i * d + blocks * b * h * j * (d + e) + b * h * i * e)
    assert c.detail["bytes_to_smem"] == want
    # K and V are read once per query block: halving BLOCK_M doubles their traffic
    c64 = fused_candidate(sf, term, ATT, "bf16", H100, dict(cfg, BLOCK_M=64, num_warps=4))
    assert c64.detail["bytes_to_smem"] - want == 2 * blocks * b * h * j * (d + e)


def test_unfused_is_bound_by_the_nxn_scores():
    sf, term = reference_form("softmax")
    sz = dict(b=1, h=16, i=8192, j=8192, d=128, e=128)
    u = unfused_candidate(term, sz, "bf16", H100)
    assert u.bound == "hbm"
    scores = 16 * 8192 * 8192 * 2
    assert u.detail["bytes_hbm"] >= 2 * scores      # written once, read back at least once
    assert u.breakdown_s["hbm"] > 3 * u.breakdown_s["tensor"]
    fused = rank(sf, term, sz, forms=("fused",))[0]
    assert fused.predicted_s * 3 < u.predicted_s


# ----------------------------------------------------------------------- napkin facts
@pytest.mark.parametrize("dtype,ratio", [("bf16", 0.5), ("fp16", 0.5), ("fp8", 1.0)])
def test_softmax_exponentials_vs_tensor_cores(dtype, ratio):
    """D = 128: 512 tensor FLOPs and one exp per score; 989 TFLOP/s against 3.9 Texp/s gives
    exp time ≈ half the tensor time in 16-bit, about equal in FP8 (datasheet figures)."""
    spec = get_device("h100").datasheet_only()
    sf, term = reference_form("softmax")
    c = fused_candidate(sf, term, ATT, dtype, spec,
                        dict(BLOCK_M=128, BLOCK_N=64, num_warps=8, num_stages=2))
    assert c.breakdown_s["sfu"] / c.breakdown_s["tensor"] == pytest.approx(ratio, rel=0.1)


def test_spherical_has_no_exponential_term():
    sf, term = reference_form("spherical")
    c = fused_candidate(sf, term, ATT, "bf16", H100,
                        dict(BLOCK_M=128, BLOCK_N=64, num_warps=8, num_stages=2))
    assert c.breakdown_s["sfu"] < 1e-3 * c.breakdown_s["tensor"]
    assert not any(t.op == "exp" for t in term.walk() if hasattr(t, "op"))


def test_decoding_picks_split_kv():
    for variant in ("spherical", "softmax"):
        sf, term = reference_form(variant)
        sz = dict(b=1, h=16, i=1, j=65536, d=128, e=128)
        best = best_candidate(sf, term, sz, "bf16", "h100")
        assert best.form == "split" and best.splits >= 4
        unsplit = rank(sf, term, sz, forms=("fused",))[0]
        assert unsplit.predicted_s > 2 * best.predicted_s


def test_split_kv_is_searched_only_beside_a_grid_that_leaves_sms_idle():
    """Split-KV fills idle SMs; where the unsplit grid already has a program per SM the search
    does not offer it (run 8's miss), but a split the user asks for is still costed."""
    from wirefuse.lowering.cost import core as cost_core, model as cost
    sf, term = reference_form("softmax")
    prefill = dict(b=1, h=12, i=10240, j=10240, d=64, e=64)
    ranked = rank(sf, term, prefill)
    assert ranked and all(c.splits == 1 for c in ranked if c.form != "unfused")
    asked = rank(sf, term, prefill, forms=("split",))
    assert asked and all(c.splits > 1 for c in asked)
    # a long chunk of few rows: BLOCK_M 128 leaves 2 programs for 132 SMs, 16 rows leave 16
    chunk = dict(b=1, h=1, i=256, j=65536, d=128, e=128)
    ranked = rank(sf, term, chunk, forms=("fused", "split"))
    for c in ranked:
        unsplit = math.ceil(chunk["i"] / c.config["BLOCK_M"])
        assert c.splits == 1 or unsplit < H100.sms.value
    assert ranked[0].splits > 1
    # the exported modules' chooser applies the same rule, and keeps a split count it is given
    p = cost.profile(sf, term)
    figs = H100.figures()
    cfgs = [{"BLOCK_M": 64, "BLOCK_N": 64, "num_warps": 4, "num_stages": 3}]
    assert cost_core.choose(p, prefill, "bf16", 2, figs, cfgs)[1] == 1
    assert cost_core.choose(p, prefill, "bf16", 2, figs, cfgs, (4,))[1] == 4
    assert cost_core.choose(p, chunk, "bf16", 2, figs, cfgs)[1] > 1


def test_prefill_picks_fused_over_unfused():
    sf, term = reference_form("softmax")
    ranked = rank(sf, term, ATT)
    assert ranked[0].form == "fused"
    assert [c.predicted_s for c in ranked] == sorted(c.predicted_s for c in ranked)


# --------------------------------------------------------------------------- properties
configs = st.fixed_dictionaries({
    "BLOCK_M": st.sampled_from([16, 32, 64, 128, 256]),
    "BLOCK_N": st.sampled_from([16, 32, 64, 128, 256]),
    "num_warps": st.sampled_from([2, 4, 8]),
    "num_stages": st.integers(1, 5)})


@settings(max_examples=60, deadline=None)
@given(cfg=configs, d=st.sampled_from([32, 64, 128, 256]), dtype=st.sampled_from(
    ["bf16", "fp8", "fp32"]), device=st.sampled_from(sorted(DEVICES)),
    variant=st.sampled_from(["softmax", "spherical"]))
def test_every_accepted_config_fits_smem(cfg, d, dtype, device, variant):
    spec = get_device(device)
    if dtype not in spec.tensor:
        return
    sf, term = reference_form(variant)
    sz = dict(b=1, h=4, i=512, j=4096, d=d, e=d)
    elt = {"bf16": 2, "fp8": 1, "fp32": 4}[dtype]
    need = elt * (cfg["BLOCK_M"] * d + cfg["num_stages"] * cfg["BLOCK_N"] * 2 * d)
    try:
        c = fused_candidate(sf, term, sz, dtype, spec, cfg)
    except Rejected:
        return
    assert need <= spec.smem_per_block.value
    assert c.detail["smem_bytes"] >= need


axis_sizes = st.fixed_dictionaries({"b": st.integers(1, 4), "h": st.integers(1, 32),
                                    "i": st.integers(1, 8192), "j": st.integers(1, 1 << 17)})


@settings(max_examples=40, deadline=None)
@given(sz=axis_sizes, grow=st.sampled_from("bhij"), factor=st.integers(2, 8),
       variant=st.sampled_from(["softmax", "spherical"]), p=st.sampled_from([1, 4, 16]))
def test_predicted_time_is_monotone_in_sizes(sz, grow, factor, variant, p):
    sf, term = reference_form(variant)
    small = dict(sz, d=128, e=128)
    big = dict(small, **{grow: small[grow] * factor})
    cfg = dict(BLOCK_M=64, BLOCK_N=64, num_warps=4, num_stages=3)
    try:
        a = fused_candidate(sf, term, small, "bf16", H100, cfg, p)
        b = fused_candidate(sf, term, big, "bf16", H100, cfg, p)
    except Rejected:
        return
    assert b.predicted_s >= a.predicted_s
    ua, ub = (unfused_candidate(term, s, "bf16", H100) for s in (small, big))
    assert ub.predicted_s >= ua.predicted_s


def test_rejects_what_does_not_fit():
    sf, term = reference_form("softmax")
    with pytest.raises(Rejected, match="SMEM"):
        fused_candidate(sf, term, ATT, "bf16", H100,
                        dict(BLOCK_M=256, BLOCK_N=256, num_warps=8, num_stages=4))
    with pytest.raises(Rejected, match="registers"):  # the A100 has no warpgroup rule
        fused_candidate(sf, term, ATT, "bf16", get_device("a100"),
                        dict(BLOCK_M=256, BLOCK_N=128, num_warps=4, num_stages=1))


@pytest.mark.parametrize("bm, warps, ok", [(64, 4, True), (64, 8, False), (128, 8, True),
                                           (128, 4, False), (32, 4, True), (16, 4, True)])
def test_hopper_gives_each_warpgroup_64_rows(bm, warps, ok):
    """wgmma's M is 64 per warpgroup: BLOCK_M 64 takes 4 warps and 128 takes 8 on the H100
    (other splits cut rows across warpgroups or stack two accumulators); below 64 rows the
    kernel uses mma.sync and any warp count the registers allow.  The A100 has no such rule."""
    sf, term = reference_form("softmax")
    cfg = dict(BLOCK_M=bm, BLOCK_N=64, num_warps=warps, num_stages=3)
    if ok:
        fused_candidate(sf, term, ATT, "bf16", H100, cfg)
    else:
        with pytest.raises(Rejected, match="warpgroup"):
            fused_candidate(sf, term, ATT, "bf16", H100, cfg)
    fused_candidate(sf, term, ATT, "bf16", get_device("a100"), dict(cfg, BLOCK_N=32))


def test_fp32_dots_are_not_wgmma_so_hopper_takes_any_warp_count():
    """fp32 tensors run their dots in IEEE fp32 (the launcher's DOT_PRECISION "ieee"), which
    Triton lowers to FMAs, not wgmma: BLOCK_M 64 on 8 warps (or 128 on 4) is no split of a
    wgmma tile there, so the H100 accepts it; tf32 and bf16 dots are wgmma and do not."""
    sf, term = reference_form("softmax")
    for bm, warps in ((64, 8), (128, 4)):
        cfg = dict(BLOCK_M=bm, BLOCK_N=32, num_warps=warps, num_stages=2)
        c = fused_candidate(sf, term, ATT, "fp32", H100, cfg)
        # the fp32 tiles: q once (BLOCK_M x 128), k and v twice (2 stages x 32 x 128 each)
        assert c.detail["smem_bytes"] == 4 * (bm * 128 + 2 * 2 * 32 * 128)
        for dtype in ("tf32", "bf16"):
            with pytest.raises(Rejected, match="warpgroup"):
                fused_candidate(sf, term, ATT, dtype, H100, cfg)


# Softmax squared with a boolean mask argument, in stream normal form: Σ_j (e^u)² v_j / (Σ_j e^u)²
# with u the masked score.  Its two sums carry e^u twice and once: the generator rescales them
# per component only with the certificate's degrees {o: 2, z: 1}.
MASKED_U = ("(where (not mask[i,j]:bool) -inf (mul 0.088 (sum@d (mul q[b,h,i,d] k[b,h,j,d]))))")
SQUARED = ("(layout@b,h,i,e (div (sum@j (mul (pow (exp U) 2.0) v[b,h,j,e])) "
           "(square (sum@j (exp U)))))").replace("U", MASKED_U)


def test_differing_shift_powers_are_costed_on_exports_loop_nest():
    """With the certificate's degrees the model builds the loop nest export builds: `--causal
    mask` is taken (without them the generator has no nest, so it is refused, as export
    refuses a form without matching degrees), the mask is not loaded, the rows are i, and the
    tensor-core work shrinks to the key blocks the causal kernel runs."""
    from dataclasses import replace
    from wirefuse.rewrite.errors import UserError
    from wirefuse.lowering.cost.model import profile, skips_causal
    from wirefuse.theorems.stream import decompose
    term = parse(SQUARED)
    sf = replace(decompose(term, "j"), shift=parse(MASKED_U))
    degrees = {"o": 2.0, "z": 1.0}
    assert sorted(c.name for c in sf.components) == sorted(degrees)
    with pytest.raises(UserError, match="different powers"):
        skips_causal(sf, "mask", strict=True)
    assert skips_causal(sf, "mask", strict=True, degrees=degrees)
    p = profile(sf, term, "mask", degrees)
    assert p["causal"] and p["rows"] == ("i",) and set(p["batch"]) == {"b", "h"}
    assert set(p["inputs"]) == {"q", "k", "v"}
    sz = dict(b=1, h=16, i=4096, j=4096, d=128, e=128)
    cfg = dict(BLOCK_M=128, BLOCK_N=64, num_warps=8, num_stages=3)
    c = fused_candidate(sf, term, sz, "bf16", H100, cfg, causal="mask", degrees=degrees)
    # row block r (128 rows) runs keys up to (r + 1)·128: 2r + 2 blocks of 64 keys, each a
    # 128 × 64 score tile through two dots (q·k over d, p·v over e), 2 FLOPs per product
    run = sum(2 * r + 2 for r in range(4096 // 128))
    assert c.detail["flops_tensor"] == 16 * run * 2 * 128 * 64 * (128 + 128)


def _visits_by_enumeration(rows, keys, bm, bn, chunk):
    """The causal kernel's loop, walked: row block r, part p runs keys [p·chunk, hi) with hi =
    min(p·chunk + chunk, keys, (r + 1)·BM), in blocks of BN."""
    run = total = 0
    for r in range(math.ceil(rows / bm)):
        for lo in range(0, keys, chunk):
            hi = min(lo + chunk, keys, (r + 1) * bm)
            run += max(0, math.ceil((hi - lo) / bn))
            total += math.ceil(chunk / bn)
    return run / total


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3000), bm=st.sampled_from([16, 32, 64, 128]),
       bn=st.sampled_from([32, 64, 128]), parts=st.integers(1, 8))
def test_causal_visits_walks_the_kernels_loop(n, bm, bn, parts):
    from wirefuse.lowering.cost.core import causal_visits
    chunk = math.ceil(math.ceil(n / parts) / bn) * bn
    assert causal_visits(n, n, bm, bn, chunk) == pytest.approx(
        _visits_by_enumeration(n, n, bm, bn, chunk))


def test_causal_kernel_is_costed_for_the_blocks_it_runs():
    """A causal softmax (mask built from positions, so the kernel skips the blocks past the
    diagonal) does about half the tensor-core work of the full one at N = 16K, and is predicted
    faster; forcing causal=False counts every block."""
    from wirefuse.loading import load_function
    from wirefuse.report.html import analyse_function
    sz = dict(b=1, h=16, i=16384, j=16384, d=128, e=128)
    cfg = dict(BLOCK_M=128, BLOCK_N=64, num_warps=8, num_stages=3)
    axes = "q: b h i d, k: b h j d, v: b h j e"
    full = analyse_function(load_function("examples/attention.py:softmax"), axes, "j")
    causal = analyse_function(load_function("examples/attention.py:causal_inline"), axes, "j")
    c_full = fused_candidate(full.stream_form, full.term, sz, "bf16", H100, cfg)
    c_causal = fused_candidate(causal.stream_form, causal.term, sz, "bf16", H100, cfg)
    c_all = fused_candidate(causal.stream_form, causal.term, sz, "bf16", H100, cfg, causal=False)
    blocks = 16384 // 128 * (16384 // 64)
    run = sum(min(256, 2 * r + 2) for r in range(128))      # (r + 1)·128 keys in blocks of 64
    ratio = c_causal.detail["flops_tensor"] / c_full.detail["flops_tensor"]
    assert ratio == pytest.approx(run / blocks, rel=1e-6)
    assert c_causal.predicted_s < 0.6 * c_full.predicted_s
    assert c_all.detail["flops_tensor"] == pytest.approx(c_full.detail["flops_tensor"], rel=1e-6)
    # FP32 work: a key block wholly below the diagonal knows its mask, so it does softmax's
    # work per score; the tail (one divide per output element) runs once; each of the 128 row
    # blocks' diagonal (two 64-key blocks) computes the mask, a compare and a select per score.
    tail = 16 * 16384 * 128
    diag = 2 * 16 * 128 * 2 * 128 * 64
    want = (c_full.detail["flops_fp32"] - tail) * run / blocks + tail + diag
    assert c_causal.detail["flops_fp32"] == pytest.approx(want, rel=1e-9)
    assert c_causal.detail["ops_sfu"] == pytest.approx(c_full.detail["ops_sfu"] * run / blocks,
                                                       rel=1e-9)


def test_body_reducing_over_rows_keeps_rows_in_one_program():
    """Column softmax normalises over the queries inside the loop over keys: a program must
    hold every query, so BLOCK_M below |i| is rejected, whatever the speed it would promise."""
    from wirefuse.theorems.stream import decompose
    term = parse("(layout@b,h,i,e (sum@j (mul (div (exp S) (sum@i (exp S))) v[b,h,j,e])))"
                 .replace("S", "(sum@d (mul q[b,h,i,d] k[b,h,j,d]))"))
    sf = decompose(term, "j")
    small = dict(b=1, h=4, i=128, j=4096, d=64, e=64)
    ranked = rank(sf, term, small, forms=("fused", "split"))
    assert ranked and all(c.config["BLOCK_M"] >= 128 for c in ranked)
    assert rank(sf, term, dict(small, i=1024), forms=("fused", "split")) == []


@pytest.mark.parametrize("i, j, later", [(4096, 4096, 0.4e-6), (256, 65536, 0.95e-6)])
def test_later_waves_wait_for_l2_only_when_the_walked_keys_fit(i, j, later):
    """Loop latency by hand: BLOCK_M 128 / BLOCK_N 64 / 3 stages at D = 128 holds 128 KB of SMEM,
    one program per SM; the first wave waits for HBM (L = 0.95 µs a step), later waves for L2
    (0.4 µs) if the K/V of the groups one wave walks fit in the 50 MB L2, else for HBM again.
    A step also streams its 32 KB K/V tile at 88 GB/s; two tiles are in flight (3 stages)."""
    sf, term = reference_form("spherical")
    sz = dict(b=1, h=16, i=i, j=j, d=128, e=128)
    c = fused_candidate(sf, term, sz, "bf16", H100,
                        dict(BLOCK_M=128, BLOCK_N=64, num_warps=8, num_stages=3))
    row_blocks = i // 128
    waves = math.ceil(16 * row_blocks / 132)
    groups_per_wave = min(16, math.ceil(132 / row_blocks))
    assert (groups_per_wave * j * 128 * 2 * 2 <= 50 * 2**20) == (later < 0.95e-6)
    steps, tile = j // 64, 64 * 128 * 2 * 2
    want = steps * (0.95e-6 + (waves - 1) * later + waves * tile / 88e9) / 2 + waves * 2 * 0.95e-6
    assert c.detail["blocks_per_sm"] == 1
    assert c.breakdown_s["latency"] == pytest.approx(want, rel=1e-9)


def test_split_parts_are_the_launchers():
    """The launcher gives each part whole key blocks and launches only the parts that hold keys:
    4100 keys in 64 asked-for parts of 64-key blocks are 33 parts of 128 keys."""
    sf, term = reference_form("softmax")
    sz = dict(b=1, h=2, i=1, j=4100, d=64, e=64)
    c = fused_candidate(sf, term, sz, "bf16", H100,
                        dict(BLOCK_M=16, BLOCK_N=64, num_warps=4, num_stages=3), 64)
    assert c.detail["programs"] == 2 * 33
    with pytest.raises(Rejected, match="empty"):
        fused_candidate(sf, term, dict(sz, j=0), "bf16", H100,
                        dict(BLOCK_M=16, BLOCK_N=64, num_warps=4, num_stages=3))


def test_a_causal_mask_argument_is_not_loaded():
    """`--causal MASK`: the kernel computes the mask from indices, so the model counts neither
    its SMEM tiles nor its bytes; it costs the same as the mask built from positions."""
    from wirefuse.loading import load_function
    from wirefuse.report.html import analyse_function
    sz = dict(b=1, h=16, i=8192, j=8192, d=128, e=128)
    cfg = dict(BLOCK_M=128, BLOCK_N=64, num_warps=8, num_stages=3)
    axes = "q: b h i d, k: b h j d, v: b h j e"
    arg = analyse_function(load_function("examples/attention.py:causal"), axes + ", mask: i j", "j")
    inline = analyse_function(load_function("examples/attention.py:causal_inline"), axes, "j")
    c_arg = fused_candidate(arg.stream_form, arg.term, sz, "bf16", H100, cfg, causal="mask")
    c_inl = fused_candidate(inline.stream_form, inline.term, sz, "bf16", H100, cfg)
    for k in ("smem_bytes", "bytes_hbm", "bytes_to_smem", "flops_tensor", "flops_fp32",
              "ops_sfu"):
        assert c_arg.detail[k] == c_inl.detail[k], k


def test_a_running_max_exp_is_bare_and_a_plain_exp_carries_its_fix_up():
    """Per score, softmax's loop multiplies by the scale, adds into z and takes e^u: with a
    running max the generator emits e^u as one bare ex2 (log2 e folded into the scale), so
    2 FP32 + 1 SFU; the same fold without the shift calls tl.exp, whose ex2.approx.f32 comes
    with a multiply by log2 e and a range fix-up (a compare, two multiplies, a select): 6."""
    from wirefuse.lowering.cost.model import profile
    from wirefuse.theorems.stream import decompose
    sf, term = reference_form("softmax")
    per_score = {tuple(sorted(w[0])): w[1:] for w in profile(sf, term)["work"]}
    assert per_score[("b", "h", "i", "j")] == [0, 2, 1]
    plain = decompose(term, "j")           # no shift: e^s computed as is
    assert plain.shift is None
    per_score = {tuple(sorted(w[0])): w[1:] for w in profile(plain, term)["work"]}
    assert per_score[("b", "h", "i", "j")] == [0, 6, 1]


def test_a_lone_decoding_program_waits_for_its_own_compute():
    """Decoding, unsplit, b = 1, h = 8: eight programs of BLOCK_M 16 / BLOCK_N 128 / 3 stages,
    one per SM.  A step waits for its HBM tile (L = 0.95 µs + 64 KB at 88 GB/s) and, its dots
    being mma.sync (below wgmma's 64 rows), for its own compute; two tiles in flight: per step
    (L + tile/B + compute) / 2, plus L for the first loads and one for the store.  The
    compute of a program: 2·16·j·(d + e) tensor FLOPs at half the SM's bf16 rate (mma.sync
    below BLOCK_M 64; the H100's measured 690 TFLOP/s), the FP32 and SFU work at the SM's."""
    sf, term = reference_form("spherical")
    j = 65536
    sz = dict(b=1, h=8, i=1, j=j, d=128, e=128)
    c = fused_candidate(sf, term, sz, "bf16", H100,
                        dict(BLOCK_M=16, BLOCK_N=128, num_warps=4, num_stages=3))
    steps, tile = j // 128, 128 * 128 * 2 * 2
    sm = 1 / 132
    compute = (2 * 16 * j * 256 / (0.5 * 690e12 * sm) + c.breakdown_s["fp32"]
               + c.breakdown_s["sfu"])
    assert c.breakdown_s["tensor"] == pytest.approx(2 * 16 * j * 256 / (0.5 * 690e12 * sm))
    want = steps * (0.95e-6 + tile / 88e9) / 2 + 2 * 0.95e-6 + compute / 2
    assert c.breakdown_s["latency"] == pytest.approx(want, rel=1e-9)
    assert c.bound == "latency"


def test_a_loop_keeps_at_most_two_tiles_in_flight():
    """The unsplit decoding loop of the test above, BLOCK_N 64 (four stages of 128 do not fit
    SMEM), with 2, 3 and 4 stages: per step (L +
    tile/B + compute) / fill, fill = min(stages - 1, tiles_in_flight = 2).  A fourth stage
    buys nothing (H100 runs 3-12, H200 runs 9-12: 422 pairs of 4 against 3 stages, median
    ratio 1.00), a third halves the step (measured 0.65 of two-stage time, run 2)."""
    sf, term = reference_form("spherical")
    j = 65536
    sz = dict(b=1, h=8, i=1, j=j, d=128, e=128)

    def latency(stages):
        c = fused_candidate(sf, term, sz, "bf16", H100,
                            dict(BLOCK_M=16, BLOCK_N=64, num_warps=4, num_stages=stages))
        b = c.breakdown_s
        step = (0.95e-6 + 64 * 128 * 2 * 2 / 88e9) * (j // 64)
        return (b["latency"] - 2 * 0.95e-6) / (step + b["tensor"] + b["fp32"] + b["sfu"])
    assert H100.figures()["tiles_in_flight"] == 2
    assert latency(2) == pytest.approx(1.0)
    assert latency(3) == pytest.approx(0.5)
    assert latency(4) == pytest.approx(0.5)


@pytest.mark.parametrize("weight", ["(mul (exp S) (exp S))", "(pow (exp S) 2.0)",
                                    "(exp (mul 2.0 S))"])
def test_a_contractions_extra_factors_multiply_over_the_weight_tile_only(weight):
    """Σ_j e^u·e^u·v (softmax squared, hand-written normal form with the running max u): the
    kernel forms the weight e^u·e^u once per score (one multiply over b, h, i, j), then dots it
    with v; nothing is multiplied per (score, e).  Per score: the scale, z's add and that
    multiply, and the one bare ex2 of e^u; written as a power of e^u or as e^(2u), the same
    (the generator emits e_u·e_u for all three)."""
    from dataclasses import replace as with_fields

    from wirefuse.lowering.cost.model import SCORE, profile
    from wirefuse.theorems.stream import decompose
    term = parse("(layout@b,h,i,e (mul (pow (sum@j (exp S)) -2.0) "
                 f"(sum@j (mul {weight} v[b,h,j,e]))))".replace("S", SCORE))
    sf = with_fields(decompose(term, "j"), shift=parse(SCORE))
    work = {tuple(sorted(w[0])): w[1:] for w in profile(sf, term)["work"]}
    assert work[("b", "h", "i", "j")] == [0, 3, 1]
    assert work[("b", "d", "h", "i", "j")] == [2, 0, 0]
    assert work[("b", "e", "h", "i", "j")] == [2, 0, 0]


def test_fp32_dots_are_costed_on_the_fp32_units():
    """fp32 inputs: the generated kernel's dots run in IEEE fp32 (FMA on the FP32 units, not
    tf32), so one program's 2·64·4096·(128 + 128) dot FLOPs take that long at the H100's FP32
    rate per SM (66.9 TFLOP/s over 132 SMs), as the exported module ranks them."""
    sf, term = reference_form("spherical")
    sz = dict(b=1, h=1, i=64, j=4096, d=128, e=128)
    c = fused_candidate(sf, term, sz, "fp32", H100,
                        dict(BLOCK_M=64, BLOCK_N=64, num_warps=4, num_stages=2))
    assert c.breakdown_s["tensor"] == pytest.approx(2 * 64 * 4096 * 256 / (66.9e12 / 132))


@pytest.mark.parametrize("warps, bm", [(4, 64), (8, 128)])
def test_a_programs_further_warpgroups_hide_less(warps, bm):
    """The exposed FP32/SFU part of the chain grows by synced_group for each warpgroup of a
    program after the first (they meet at every step's barrier)."""
    from wirefuse.lowering.cost import core as cost_core, model as cost
    sf, term = reference_form("softmax")
    p = cost.profile(sf, term)
    cfg = {"BLOCK_M": bm, "BLOCK_N": 64, "num_warps": warps, "num_stages": 3}

    def exposed(g):
        figs = dict(H100.figures(), synced_group=g)
        t = cost_core.fused_time(p, ATT, "bf16", 2, figs, cfg)[2]
        feed = max(t["tensor"], t["l2"]) + figs["exposed_loads"] * min(t["tensor"], t["l2"])
        return t["chain"] - feed
    assert exposed(1.0) > 0
    assert exposed(1.25) == pytest.approx(exposed(1.0) * 1.25 ** (warps // 4 - 1))


def test_each_co_resident_program_past_the_second_hides_more():
    """The exposed FP32/SFU part of the chain is co_resident with two programs on an SM and
    shrinks by further_resident for each program after the second; one program alone keeps
    it whole.  BLOCK_M 64 / BLOCK_N 32 at D=64 fits 4 programs per SM, at D=128 with 4 stages
    only 2 (SMEM), at D=128 with 3 stages 3."""
    from wirefuse.lowering.cost import core as cost_core, model as cost
    sf, term = reference_form("softmax")
    p = cost.profile(sf, term)

    def exposed(sizes, stages, g):
        cfg = {"BLOCK_M": 64, "BLOCK_N": 32, "num_warps": 4, "num_stages": stages}
        figs = dict(H100.figures(), further_resident=g)
        t, detail = cost_core.fused_time(p, sizes, "bf16", 2, figs, cfg)[2:]
        feed = max(t["tensor"], t["l2"]) + figs["exposed_loads"] * min(t["tensor"], t["l2"])
        hidden = figs["exposed_fp32"] * t["fp32"] + figs["exposed_sfu"] * t["sfu"]
        return detail["blocks_per_sm"], (t["chain"] - feed) / hidden
    d128 = dict(b=1, h=16, i=8192, j=8192, d=128, e=128)
    d64 = dict(d128, d=64, e=64)
    co = H100.figures()["co_resident"]
    for sizes, stages, occ in ((d128, 4, 2), (d128, 3, 3), (d64, 3, 4)):
        for g in (1.0, 0.5):
            got_occ, factor = exposed(sizes, stages, g)
            assert got_occ == occ
            assert factor == pytest.approx(co * g ** (occ - 2))


def test_compute_is_charged_per_program_an_sm_runs_not_per_whole_wave():
    """An SM starts a program whenever a slot frees, so the busiest SM's compute is
    ceil(programs / SMs) programs' worth, whatever the slots per SM: with 3 slots per SM on
    132 SMs, 397 programs (one past three full rows) cost four programs on the busiest SM, not
    a second whole wave of three (six), and 396 cost three."""
    from wirefuse.lowering.cost import core as cost_core, model as cost
    sf, term = reference_form("spherical")
    p = cost.profile(sf, term)
    figs = H100.figures()
    cfg = {"BLOCK_M": 64, "BLOCK_N": 64, "num_warps": 4, "num_stages": 3}

    def tensor(groups, occ):
        sizes = dict(b=1, h=groups, i=64, j=4096, d=128, e=128)
        real = cost_core.fit(p, sizes, "bf16", 2, figs, cfg)
        fitted = dict(real, blocks_per_sm=occ)
        t, detail = cost_core.fused_time(p, sizes, "bf16", 2, figs, cfg, 1, fitted)[2:]
        assert detail["programs"] == groups
        return t["tensor"]
    one = 2 * 64 * 4096 * 256 / (figs["tensor"]["bf16"] / figs["sms"])
    assert tensor(397, 3) == pytest.approx(4 * one)
    assert tensor(396, 3) == pytest.approx(3 * one)
    assert tensor(397, 1) == pytest.approx(4 * one)
    assert tensor(133, 2) == pytest.approx(2 * one)
