"""Attention benchmarks: wirefuse's generated kernels against PyTorch peers (bf16, forward).

Two steps, because the GPU machine has no egglog:

    python bench/attention.py --generate          # here: prove + export into bench/generated/
    python bench/attention.py --out DIR [--shapes 0,1] [--decode] [--tests]   # on the GPU
    python bench/attention.py --out DIR --choices     # on the GPU: own choice vs autotune

Variants: spherical, softmax, sigmoid, softcap, alibi, causal (examples/attention.py).  Shapes
B,H,N,D = (4,16,1024,128), (2,16,4096,128), (1,16,16384,128), (2,16,4096,64).  Peers: naive
PyTorch (the example as written), torch.compile of it, SDPA with the flash and cuDNN backends
(softmax, causal), FlexAttention where it can express the variant (softmax, causal, softcap,
alibi; not spherical or sigmoid: its normaliser is softmax).  TFLOP/s = 4·B·H·N²·D / t, halved
for causal.  Decoding: 1 query against N = 8K..128K keys (B=1, H=32, D=128), split-KV, in GB/s of
K and V read, against the measured HBM bandwidth (a device-to-device copy).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
GEN = HERE / "generated"
VARIANTS = ["spherical", "softmax", "sigmoid", "softcap", "alibi", "causal", "alibi_inline",
            "causal_inline"]
SHAPES = [(4, 16, 1024, 128), (2, 16, 4096, 128), (1, 16, 16384, 128), (2, 16, 4096, 64)]
AXES = "q: b h i d, k: b h j d, v: b h j e"
EXTRA = {"alibi": ", bias: h i j", "causal": ", mask: i j", "alibi_inline": ", slopes: h"}
TRY_CONFIGS = [dict(block_m=128, block_n=64, num_warps=8, num_stages=3),
               dict(block_m=128, block_n=128, num_warps=8, num_stages=2),
               dict(block_m=128, block_n=32, num_warps=4, num_stages=4),
               dict(block_m=64, block_n=64, num_warps=4, num_stages=3),
               dict(block_m=128, block_n=64, num_warps=8, num_stages=2),
               dict(block_m=64, block_n=128, num_warps=4, num_stages=2)]
TARGETS = {"spherical": ("tflops", 600.0), "softmax": ("flex", 1.0), "causal": ("flex", 0.9)}


def _examples():
    spec = importlib.util.spec_from_file_location("_bench_examples", ROOT / "examples" / "attention.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def generate() -> None:
    """Prove and export every variant into bench/generated/ (needs wirefuse and egglog)."""
    sys.path.insert(0, str(ROOT))
    from wirefuse.kernels.export import export_source
    A = _examples()
    GEN.mkdir(exist_ok=True)
    for name in VARIANTS:
        t = time.time()
        src = export_source(getattr(A, name), AXES + EXTRA.get(name, ""), "j",
                            causal="mask" if name == "causal" else None)
        (GEN / f"{name}.py").write_text(src)
        print(f"generated bench/generated/{name}.py in {time.time() - t:.1f}s")


def load_kernel(name):
    spec = importlib.util.spec_from_file_location(f"_wf_{name}", GEN / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[f"_wf_{name}"] = mod  # torch.compile re-imports the module by name
    spec.loader.exec_module(mod)
    return mod, getattr(mod, name)


# --- GPU side ---------------------------------------------------------------------------------
def _inputs(name, B, H, N, D, dtype, dev):
    import torch
    g = torch.Generator(device=dev).manual_seed(0)
    q, k, v = (torch.randn(B, H, N, D, device=dev, dtype=dtype, generator=g) for _ in range(3))
    args = [q, k, v]
    if name == "alibi":
        slopes = 2.0 ** (-8.0 * torch.arange(1, H + 1, device=dev) / H)
        pos = torch.arange(N, device=dev)
        args.append((-slopes[:, None, None] * (pos[:, None] - pos[None, :]).abs()).to(dtype))
    if name == "causal":
        args.append(torch.ones(N, N, dtype=torch.bool, device=dev).tril())
    if name == "alibi_inline":  # the bias is built from positions inside the function
        args.append((2.0 ** (-8.0 * torch.arange(1, H + 1, device=dev) / H)).to(dtype))
    return args


def _flex(name, args):
    """FlexAttention for the variant, or None where it cannot express it."""
    import torch
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    q, k, v = args[:3]
    N = q.shape[2]
    fa = torch.compile(flex_attention)
    if name == "softmax":
        return lambda: fa(q, k, v)
    if name in ("causal", "causal_inline"):
        bm = create_block_mask(lambda b, h, qi, ki: ki <= qi, None, None, N, N)
        return lambda: fa(q, k, v, block_mask=bm)
    if name == "softcap":
        def mod(score, b, h, qi, ki):
            return 30.0 * torch.tanh(score / 30.0)
        return lambda: fa(q, k, v, score_mod=mod)
    if name in ("alibi", "alibi_inline"):
        # the same bias as _inputs builds, from indices (indexing the (h, i, j) tensor overflows
        # int32 offsets in FlexAttention at N = 16K: illegal memory access)
        H = q.shape[1]
        slopes = (2.0 ** (-8.0 * torch.arange(1, H + 1, device=q.device) / H)).to(q.dtype)

        def mod(score, b, h, qi, ki):
            return score - slopes[h] * (qi - ki).abs()
        return lambda: fa(q, k, v, score_mod=mod)
    return None


def _sdpa(name, args, backend):
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    if name not in ("softmax", "causal", "causal_inline"):
        return None
    q, k, v = args[:3]
    be = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}[backend]

    def run():
        with sdpa_kernel(be):
            return F.scaled_dot_product_attention(q, k, v, is_causal=name.startswith("causal"))
    return run


def _time(fn):
    import torch
    import triton
    try:
        fn()
        torch.cuda.synchronize()
        return triton.testing.do_bench(fn, warmup=10, rep=60)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        return "oom"
    except Exception as e:  # a peer that cannot run this case
        return f"error: {type(e).__name__}: {str(e).splitlines()[0][:80] if str(e) else ''}"


def within(out, ref, tol=0.01):
    """FlashSign's criterion: the fraction of elements within `tol` of the fp32 reference."""
    return ((out.float() - ref.float()).abs() <= tol).float().mean().item()


def bench_shape(shape, A, kernels, results, accuracy=False):
    import torch
    B, H, N, D = shape
    dev = "cuda"
    for name in VARIANTS:
        mod, kern = kernels[name]
        args = _inputs(name, B, H, N, D, torch.bfloat16, dev)
        fn = getattr(A, name)
        flops = 4 * B * H * N * N * D / (2 if name.startswith("causal") else 1)
        auto = dict.fromkeys(mod.CONFIG)  # the module's own choice (the cost model's top-1)
        mod.CONFIG = dict(auto)
        own_ms = _time(lambda: kern(*args))
        own_cfg = mod._config(dict(b=B, h=H, i=N, j=N, d=D, e=D), args[0].device, args[0].dtype)
        best = mod.autotune(*args, configs=TRY_CONFIGS, ms=40)
        row = {"variant": name, "shape": shape, "config": best[0] if best else None}
        row["wirefuse_ms"] = best[1] if best else _time(lambda: kern(*args))
        row["own_choice_ms"], row["own_choice_config"] = own_ms, own_cfg
        mod.CONFIG = dict(auto)
        peers = {"naive": lambda: fn(*args)}
        comp = torch.compile(fn)
        peers["torch.compile"] = lambda: comp(*args)
        for be in ("flash", "cudnn"):
            s = _sdpa(name, args, be)
            if s:
                peers[f"sdpa_{be}"] = s
        fl = _flex(name, args)
        if fl:
            peers["flex"] = fl
        for p, f in peers.items():
            row[f"{p}_ms"] = _time(f)
        row["tflops"] = {k[:-3]: flops / (v * 1e-3) / 1e12 for k, v in row.items()
                         if k.endswith("_ms") and isinstance(v, float)}
        if accuracy:
            ref = fn(*[a.float() if a.is_floating_point() else a for a in args])
            row["within_0.01_bf16"] = within(kern(*args), ref)
            a16 = [a.half() if a.is_floating_point() else a for a in args]
            row["within_0.01_fp16"] = within(kern(*a16), ref)
            del ref
        results.append(row)
        _save(results)
        print(json.dumps(row), flush=True)
        del args, comp, peers
        torch.cuda.empty_cache()


def bench_choices(shape, kernels, results, graph=True):
    """What a user gets from each module at one shape, no peers: its own choice (the cost
    model's top-1; CONFIG unset), `autotune(*args)` (the model's short list of three tile shapes
    timed; what `export --tune 3` does by itself) and the best of TRY_CONFIGS (the six configs
    the tables above time), each launched through the module and timed alike: replayed from a
    CUDA graph (GPU time; `graph`), since at N ≤ 4096 an eager call's host time (tens to a
    hundred µs) is a large and noisy part of a 0.1-0.3 ms kernel's, or eager (_time)."""
    import torch
    B, H, N, D = shape
    flops_all = 4 * B * H * N * N * D
    for name in VARIANTS:
        mod, kern = kernels[name]
        args = _inputs(name, B, H, N, D, torch.bfloat16, "cuda")
        flops = flops_all / (2 if name.startswith("causal") else 1)
        row = {"variant": name, "shape": shape, "choices": {},
               "timing": "graph" if graph else "eager"}
        mod.CONFIG = dict.fromkeys(mod.CONFIG)
        for how in ("own", "tuned", "try6"):
            mod._configs.clear()
            if how == "tuned":
                mod.autotune(*args, top=3, ms=40)
            elif how == "try6":
                mod.autotune(*args, configs=TRY_CONFIGS, ms=40)
            ms = _graph_time(lambda: kern(*args)) if graph else _time(lambda: kern(*args))
            cfg = next(iter(mod._configs.values()), None)  # None: the call failed (ms says why)
            row["choices"][how] = {"ms": ms, "config": cfg, "tflops": flops / (ms * 1e-3) / 1e12
                                   if isinstance(ms, float) else None}
        mod._configs.clear()
        results.append(row)
        _save(results)
        print(json.dumps(row), flush=True)
        del args
        torch.cuda.empty_cache()


def choice_table(results) -> str:
    """bench_choices' rows as one markdown table (TFLOP/s and each ÷ the best of the three)."""
    rows = [r for r in results if "choices" in r]
    if not rows:
        return ""
    cfg = lambda c: f"{c['block_m']}, {c['block_n']}, {c['num_warps']}, {c['num_stages']}"
    out = ["| B,H,N,D | variant | own choice TFLOP/s (config) | autotune / --tune 3 | best of "
           "TRY_CONFIGS | own ÷ best of all | tuned ÷ best of all |", "|---" * 7 + "|"]
    for r in rows:
        c = r["choices"]
        if not all(isinstance(c[k]["ms"], float) for k in c):
            out.append(f"| {tuple(r['shape'])} | {r['variant']} | failed: "
                       f"{ {k: v['ms'] for k, v in c.items() if not isinstance(v['ms'], float)} } |")
            continue
        best = min(c[k]["ms"] for k in c)
        cell = lambda k: f"{c[k]['tflops']:.0f} ({cfg(c[k]['config'])})"
        out.append(f"| {tuple(r['shape'])} | {r['variant']} | {cell('own')} | {cell('tuned')} | "
                   f"{cell('try6')} | {best / c['own']['ms']:.0%} | "
                   f"{best / c['tuned']['ms']:.0%} |")
    return "\n".join(out)


def hbm_bandwidth():
    import torch
    import triton
    x = torch.empty(2 * 1024 ** 3 // 2, dtype=torch.bfloat16, device="cuda")
    y = torch.empty_like(x)
    ms = triton.testing.do_bench(lambda: y.copy_(x), warmup=5, rep=50)
    return 2 * x.numel() * 2 / (ms * 1e-3) / 1e9  # read + write, GB/s


DECODE_CONFIGS = [dict(block_m=16, block_n=bn, num_warps=4, num_stages=st, splits=p)
                  for bn in (64, 128) for st in (2, 3) for p in (8, 16, 32, 64)]


def bench_decode(results, sweep=True):
    """1 query, N keys: the module's own choice (the cost model's top-1 when the module has it),
    one part (no split), the best of DECODE_CONFIGS, and SDPA flash; GB/s of K and V read."""
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    mod, kern = load_kernel("softmax")
    bw = hbm_bandwidth()
    B, H, D = 1, 32, 128
    auto = dict.fromkeys(mod.CONFIG)  # every field chosen by the module
    for N in (8192, 16384, 32768, 65536, 131072):
        q = torch.randn(B, H, 1, D, device="cuda", dtype=torch.bfloat16)
        k = torch.randn(B, H, N, D, device="cuda", dtype=torch.bfloat16)
        v = torch.randn(B, H, N, D, device="cuda", dtype=torch.bfloat16)
        gb = 2 * B * H * N * D * 2 / 1e9
        row = {"decode_N": N, "hbm_GBps": bw}

        def gbps(ms):  # a time, or the peer's error string as it is
            return gb / (ms * 1e-3) if isinstance(ms, float) else ms

        def rate(cfg):
            mod.CONFIG = dict(auto, **cfg)
            return gbps(_time(lambda: kern(q, k, v)))
        row["wirefuse_auto_GBps"] = rate({})
        # the same call replayed from a CUDA graph
        row["wirefuse_auto_graph_GBps"] = gbps(_graph_time(lambda: kern(q, k, v)))
        row["wirefuse_auto_config"] = mod._config(
            dict(b=B, h=H, i=1, j=N, d=D, e=D), q.device, q.dtype)
        row["wirefuse_splits_1_GBps"] = rate(dict(splits=1, block_m=16))
        if sweep:
            best = None
            for cfg in DECODE_CONFIGS:
                r = rate(cfg)
                if isinstance(r, float) and (best is None or r > best[0]):
                    best = (r, cfg)
            row["wirefuse_best_GBps"], row["wirefuse_best_config"] = best

        def flash():
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                return F.scaled_dot_product_attention(q, k, v)
        row["sdpa_flash_GBps"] = gbps(_time(flash))
        row["sdpa_flash_graph_GBps"] = gbps(_graph_time(flash))
        ref = torch.softmax(q.float() @ k.float().mT / D ** 0.5, -1) @ v.float()
        mod.CONFIG = dict(auto)
        row["within_0.01"] = within(kern(q, k, v), ref)
        results.append(row)
        _save(results)
        print(json.dumps(row), flush=True)
    mod.CONFIG = dict(auto)


def _graph_time(fn):
    """do_bench of fn captured in a CUDA graph: what a serving loop that replays its decoding
    step pays, without Python's per-call launch cost (which bounds a 1-query call at 8K keys)."""
    from cuda_graph import capture, warm_up
    try:
        warm_up(fn)
        g = capture(fn)
    except Exception as e:
        return f"error: {type(e).__name__}: {str(e).splitlines()[0][:80] if str(e) else ''}"
    return _time(g.replay)


def _own(r) -> str:
    """The module's own choice: TFLOP/s and its fraction of the best timed config."""
    own, cfg = r.get("own_choice_ms"), r.get("own_choice_config") or {}
    if not isinstance(own, float) or not isinstance(r.get("wirefuse_ms"), float):
        return "—"
    flops = r["tflops"]["wirefuse"] * r["wirefuse_ms"]
    return (f"{flops / own:.0f} ({r['wirefuse_ms'] / own:.0%} of best; {cfg.get('block_m')}, "
            f"{cfg.get('block_n')}, {cfg.get('num_warps')}, {cfg.get('num_stages')}, "
            f"p={cfg.get('splits')})")


def tables(results) -> str:
    """The markdown tables of a run (prefill: TFLOP/s and wirefuse ÷ peer; decode: GB/s)."""
    if isinstance(results, dict):  # a merged results file: {"versions", "decode", "shapes"}
        results = results.get("shapes", []) + results.get("decode", [])
    peers = ["naive", "torch.compile", "sdpa_flash", "sdpa_cudnn", "flex"]
    out, shape = [], None
    for r in results:
        if "variant" in r and "tflops" in r:  # (bench_choices' rows: choice_table)
            if r["shape"] != shape:
                shape = r["shape"]
                out += ["", f"B,H,N,D = {tuple(shape)}", "",
                        "| variant | wirefuse TFLOP/s | " + " | ".join(peers) + " | config | "
                        "module's own choice (cost model) |",
                        "|---" * (len(peers) + 4) + "|"]
            t = r["tflops"]
            w = t.get("wirefuse")
            cells = [f"{t[p]:.0f} ({w / t[p]:.2f}×)" if p in t and w else "—" for p in peers]
            cfg = r.get("config") or {}
            out.append(f"| {r['variant']} | **{w:.0f}** | " + " | ".join(cells) +
                       f" | {cfg.get('block_m')}, {cfg.get('block_n')}, {cfg.get('num_warps')}, "
                       f"{cfg.get('num_stages')} | {_own(r)} |" if w else f"| {r['variant']} | failed |")
    dec = [r for r in results if "decode_N" in r]
    if dec:
        bw = dec[0]["hbm_GBps"]
        out += ["", f"Decoding (B=1, H=32, D=128, bf16), GB/s of K and V; HBM copy {bw:.0f} GB/s",
                "", "| N | auto (cost model) | % HBM | best swept | % HBM | 1 part | SDPA flash | "
                "auto, CUDA graph | % HBM | SDPA flash, CUDA graph |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for r in dec:
            def g(k):
                v = r.get(k)
                return f"{v:.0f}" if isinstance(v, float) else str(v)
            pct = lambda k: f"{100 * r[k] / bw:.0f} %" if isinstance(r.get(k), float) else "—"
            out.append(f"| {r['decode_N']} | {g('wirefuse_auto_GBps')} | "
                       f"{pct('wirefuse_auto_GBps')} | {g('wirefuse_best_GBps')} | "
                       f"{pct('wirefuse_best_GBps')} | {g('wirefuse_splits_1_GBps')} | "
                       f"{g('sdpa_flash_GBps')} | {g('wirefuse_auto_graph_GBps')} | "
                       f"{pct('wirefuse_auto_graph_GBps')} | {g('sdpa_flash_graph_GBps')} |")
    return "\n".join(out)


_PATH = None


def _save(results):
    """Write after every row, so a run cut off by its time limit still leaves what it measured."""
    if _PATH is not None:
        _PATH.write_text(json.dumps(results, indent=1))


def versions():
    import torch
    import triton
    return {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
            "triton": triton.__version__, "cuda": torch.version.cuda,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generate", action="store_true")
    ap.add_argument("--shapes", default="0,1,2,3", help="indices into SHAPES")
    ap.add_argument("--decode", action="store_true")
    ap.add_argument("--no-shapes", action="store_true")
    ap.add_argument("--choices", action="store_true", help="at --shapes, time only what each "
                    "module launches by itself, after autotune, and the best of TRY_CONFIGS "
                    "(no peers; CUDA-graph replays unless --eager)")
    ap.add_argument("--eager", action="store_true", help="--choices: time eager calls")
    ap.add_argument("--out", default=".")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset")
    ap.add_argument("--table", metavar="RESULTS.json", help="print the tables of a saved run")
    args = ap.parse_args(argv)
    if args.generate:
        return generate()
    if args.table:
        saved = json.loads(pathlib.Path(args.table).read_text())
        return print("\n\n".join(t for t in (tables(saved), choice_table(
            saved if isinstance(saved, list) else [])) if t))
    VARIANTS[:] = [v for v in args.variants.split(",") if v]
    import torch
    # one compiled peer per variant sees every shape: keep dynamo from falling back to eager
    # after its default 8 recompilations (that made the first run's D = 64 peers look slow)
    for knob in ("cache_size_limit", "recompile_limit", "accumulated_cache_size_limit",
                 "accumulated_recompile_limit"):
        if hasattr(torch._dynamo.config, knob):
            setattr(torch._dynamo.config, knob, 1024)
    # and compile each shape statically, as a fresh process would: after a shape changes,
    # automatic dynamic shapes recompile the peers with symbolic sizes, which made
    # torch.compile and FlexAttention 1.5-10x slower on every shape after the first
    torch._dynamo.config.automatic_dynamic_shapes = False
    A = _examples()
    kernels = {n: load_kernel(n) for n in VARIANTS}
    results = [versions()]
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    global _PATH
    path = _PATH = out / f"attention_{int(time.time())}.json"
    print(json.dumps(results[0]), flush=True)
    try:
        if args.decode:
            bench_decode(results)
        if args.choices:
            for i in [int(x) for x in args.shapes.split(",") if x]:
                bench_choices(SHAPES[i], kernels, results, graph=not args.eager)
        elif not args.no_shapes:
            for i in [int(x) for x in args.shapes.split(",") if x]:
                bench_shape(SHAPES[i], A, kernels, results, accuracy=i == 0)
    finally:
        path.write_text(json.dumps(results, indent=1))
        print(tables(results))
        if args.choices:
            print(choice_table(results))
        print(f"wrote {path}")
    del torch


if __name__ == "__main__":
    main()
