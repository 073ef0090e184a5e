"""GPU checks of the generated kernels in bench/generated/ (run on the device machine).

bf16 and fp16 against the fp32 reference: the fraction of elements within 0.01 must reach the
FlashSign criterion (99.7 %); fp32 against float64 must be tight.  Skipped without CUDA.
Regenerate the kernels with `python bench/attention.py --generate` (needs egglog).

The generic tests at the end run every kernel in tests/gpu_kernels/ (each streamable example of
examples/attention.py and examples/other.py that the generator lowers; regenerate with
`python tests/gpu_kernels/generate.py`), with inputs built from each module's AXES and DTYPES,
against the example itself: fp32 vs float64, bf16/fp16 by the criterion above, and split-KV vs
the unsplit kernel on a decoding shape (one query).
"""
import importlib.util
import pathlib
import sys

import pytest
import torch

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

ROOT = pathlib.Path(__file__).resolve().parent.parent
GEN = ROOT / "bench" / "generated"
VARIANTS = ["spherical", "softmax", "sigmoid", "softcap", "alibi", "causal"]


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # torch.compile re-imports the module by name
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def examples():
    return _load(ROOT / "examples" / "attention.py", "_gpu_examples")


def kernel(name):
    mod = _load(GEN / f"{name}.py", f"_gpu_{name}")
    return mod, getattr(mod, name)


def inputs(name, B=2, H=4, N=1000, D=128, dtype=torch.float32):
    g = torch.Generator(device="cuda").manual_seed(0)
    args = [torch.randn(B, H, N, D, device="cuda", generator=g, dtype=dtype) for _ in range(3)]
    if name == "alibi":
        args.append(torch.randn(H, N, N, device="cuda", generator=g, dtype=dtype))
    if name == "causal":
        args.append(torch.ones(N, N, dtype=torch.bool, device="cuda").tril())
    return args


def within(out, ref, tol=0.01):
    """FlashSign's criterion, with the tolerance scaled by the output's RMS where that exceeds 1
    (sigmoid and spherical outputs are not normalised: |out| ~ 10, and bf16 has 8 bits)."""
    scale = max(1.0, ref.float().pow(2).mean().sqrt().item())
    return ((out.float() - ref.float()).abs() <= tol * scale).float().mean().item()


@pytest.mark.parametrize("name", VARIANTS)
def test_low_precision_vs_fp32(name, examples):
    mod, fn = kernel(name)
    args = inputs(name)
    ref = getattr(examples, name)(*args)
    out32 = fn(*args)
    err = (out32.double() - getattr(examples, name)(
        *[a.double() if a.is_floating_point() else a for a in args])).abs().max().item()
    assert err < 1e-4 * max(1.0, ref.abs().max().item()), err
    for dt in (torch.bfloat16, torch.float16):
        low = [a.to(dt) if a.is_floating_point() else a for a in args]
        # the fp32 reference of the same (rounded) inputs: the kernel's error, not the rounding's
        ref = getattr(examples, name)(*[a.float() if a.is_floating_point() else a for a in low])
        frac = within(fn(*low), ref)
        print(f"{name} {dt}: {100 * frac:.3f}% within 0.01 of fp32")
        assert frac >= 0.997, (name, dt, frac)


def test_split_kv_equals_unsplit():
    mod, fn = kernel("softmax")
    q = torch.randn(1, 8, 1, 128, device="cuda", dtype=torch.bfloat16)
    k, v = (torch.randn(1, 8, 20000, 128, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    mod.CONFIG = dict(mod.CONFIG, block_m=16, splits=1)
    a = fn(q, k, v)
    mod.CONFIG = dict(mod.CONFIG, splits=37)
    b = fn(q, k, v)
    mod.CONFIG = dict(mod.CONFIG, block_m=None, splits=None)
    assert (a.float() - b.float()).abs().max().item() < 1e-2


def test_non_contiguous_and_compile(examples):
    mod, fn = kernel("spherical")
    q = torch.randn(2, 300, 4, 64, device="cuda", dtype=torch.float16).transpose(1, 2)
    k = torch.randn(2, 4, 64, 500, device="cuda", dtype=torch.float16).transpose(2, 3)
    v = torch.randn(2, 4, 500, 64, device="cuda", dtype=torch.float16)
    ref = examples.spherical(q.float(), k.float(), v.float())
    assert within(fn(q, k, v), ref) >= 0.997
    comp = torch.compile(lambda q, k, v: fn(q, k, v) + 1, fullgraph=True)
    assert within(comp(q, k, v) - 1, ref) >= 0.997


# --- every kernel in tests/gpu_kernels/, against its example ----------------------------------
KERNELS = ROOT / "tests" / "gpu_kernels"
GENERATED = sorted(p.stem for p in KERNELS.glob("*.py") if p.stem != "generate")
SIZES = dict(b=2, h=4, g=2, r=2, i=1000, j=1003, d=128, e=128)  # by axis name; others 2


@pytest.fixture(scope="module")
def example_fns(examples):
    other = _load(ROOT / "examples" / "other.py", "_gpu_other_examples")
    return {n: getattr(m, n) for m in (examples, other) for n in m.EXAMPLES}


def generated(name):
    mod = _load(KERNELS / f"{name}.py", f"_gk_{name}")
    return mod, getattr(mod, name)


def axis_sizes(mod, rows, keys):
    """Sizes of every axis of the module: SIZES by name, axes the kernel holds whole (d, e, a
    hidden axis h) 128, the row axis `rows` and the streamed axis `keys`."""
    sz = {a: SIZES.get(a, 2) for ax in mod.AXES.values() for a in ax}
    sz.update({a: 128 for a in mod.LIMITS})
    sz[mod.ROW], sz[mod.STREAM] = rows, keys
    return sz


def example_inputs(mod, sz, device, seed=0):
    """Arguments in fp32 (masks bool) for the module's AXES and DTYPES: a mask over the row and
    streamed axes is the causal tril, any other mask random with the first key of every row
    kept; a float argument over neither those nor a held-whole axis (ALiBi's per-head slopes)
    gets positive geometric slopes 2^(-8k/n); everything else is standard normal."""
    g = torch.Generator(device=device).manual_seed(seed)
    row, key = mod.ROW, mod.STREAM
    out = []
    for p in mod.ARGS:
        ax = mod.AXES[p]
        shape = [sz[a] for a in ax]
        if mod.DTYPES[p] == "bool":
            if row in ax and key in ax:
                tri = torch.ones(sz[row], sz[key], dtype=torch.bool, device=device).tril()
                rest = [a for a in ax if a not in (row, key)]
                x = tri.reshape([1] * len(rest) + list(tri.shape)).expand(
                    [sz[a] for a in rest] + list(tri.shape))
                x = x.movedim((-2, -1), (ax.index(row), ax.index(key))).contiguous()
            elif key in ax:
                x = torch.rand(shape, generator=g, device=device) < 0.7
                x.select(ax.index(key), 0).fill_(True)  # no row without a key
            else:  # a mask without the key axis could drop whole rows: keep everything
                x = torch.ones(shape, dtype=torch.bool, device=device)
        elif not {row, key} & set(ax) and not set(mod.LIMITS) & set(ax):
            n = max(1, torch.Size(shape).numel())
            x = 2.0 ** (-8.0 * torch.arange(1, n + 1, device=device) / n).reshape(shape)
        else:
            x = torch.randn(shape, generator=g, device=device)
        out.append(x)
    return out


def _as(args, dtype):
    return [a.to(dtype) if a.is_floating_point() else a for a in args]


def _scale(ref):
    return max(1.0, ref.abs().max().item())


def check_fp32(fn, example, args, tol=1e-4):
    """The fp32 kernel against the example in float64 on the same inputs: (out, error, allowed)."""
    ref = example(*_as(args, torch.float64))
    out = fn(*args)
    assert out.dtype == torch.float32 and out.shape == ref.shape, (out.dtype, out.shape, ref.shape)
    return out, (out.double() - ref).abs().max().item(), tol * _scale(ref)


@pytest.mark.parametrize("name", GENERATED)
def test_generated_kernel_vs_example(name, example_fns):
    mod, fn = generated(name)
    example = example_fns[name]
    args = example_inputs(mod, axis_sizes(mod, SIZES["i"], SIZES["j"]), "cuda")
    _, err, allowed = check_fp32(fn, example, args)
    print(f"{name} fp32: max error {err:.2e} vs float64 (allowed {allowed:.2e})")
    assert err <= allowed, (name, err, allowed)
    for dt in (torch.bfloat16, torch.float16):
        low = _as(args, dt)
        # the fp32 reference of the same (rounded) inputs: the kernel's error, not the rounding's
        ref = example(*_as(low, torch.float32))
        out = fn(*low)
        assert out.dtype == dt and out.shape == ref.shape
        frac = within(out, ref)
        print(f"{name} {dt}: {100 * frac:.3f}% within 0.01 of fp32")
        assert frac >= 0.997, (name, dt, frac)


@pytest.mark.parametrize("name", GENERATED)
def test_generated_split_kv_decoding(name, example_fns):
    """One query against 4099 keys: 3 parts (two of them fully masked for a causal mask, which
    the combine must weigh as empty) equal the unsplit kernel, and both the example."""
    mod, fn = generated(name)
    args = example_inputs(mod, axis_sizes(mod, 1, 4099), "cuda", seed=1)
    saved = mod.CONFIG
    try:
        mod.CONFIG = dict(saved, block_m=16, splits=1)
        whole = fn(*args)
        mod.CONFIG = dict(saved, block_m=16, splits=3)
        split, err, allowed = check_fp32(fn, example_fns[name], args)
    finally:
        mod.CONFIG = saved
    assert err <= allowed, (name, err, allowed)
    gap = (split - whole).abs().max().item()
    assert gap <= 1e-5 * _scale(whole), (name, gap)


@pytest.mark.parametrize("rows,keys", [(2048, 2048), (1, 32768)], ids=["prefill", "decoding"])
def test_tuned_launch_is_one_of_the_models_first_three(rows, keys, examples):
    """TUNE = 3 (export --tune 3): a new call shape times the cost model's first three
    candidates on the call's arguments and keeps the fastest: the launch is one of them, the
    result the example's, and `autotune` (same shape, fresh timing) picks among the same three."""
    mod, fn = kernel("softmax")
    saved = mod.TUNE
    try:
        mod.TUNE = 3
        mod._configs.clear()
        g = torch.Generator(device="cuda").manual_seed(2)
        q, k, v = (torch.randn(1, 8, n, 128, device="cuda", generator=g, dtype=torch.bfloat16)
                   for n in (rows, keys, keys))
        out = fn(q, k, v)
        ref = examples.softmax(q.float(), k.float(), v.float())
        assert within(out, ref) >= 0.997
        (key, cfg), = mod._configs.items()
        rep = dict(zip(mod._check((q, k, v))[0], key[0]))
        first3 = mod.candidates(rep, torch.bfloat16, *mod._gpu(q.device), top=3)
        assert len(first3) == 3 and cfg in first3, (cfg, first3)
        best = mod.autotune(q, k, v)
        assert best is not None and best[0] in first3 and best[1] > 0
        print(f"softmax {rows}x{keys}: tuned {cfg}; autotune {best}")
    finally:
        mod.TUNE = saved
        mod._configs.clear()
