"""GPU checks of the generated kernels in bench/generated/ (run on the device machine).

bf16 and fp16 against the fp32 reference: the fraction of elements within 0.01 must reach the
FlashSign criterion (99.7 %); fp32 against float64 must be tight.  Skipped without CUDA.
Regenerate the kernels with `python bench/attention.py --generate` (needs egglog).
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
