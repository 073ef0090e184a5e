"""Export a proven stream form as one self-contained Python module (torch + triton at run time).

The module defines `FUNC(*args)` with the source function's positional tensor arguments and
result, backed by the generated Triton kernels and registered as the custom op `wirefuse::FUNC`
(`torch.library.custom_op`, with a `register_fake` shape function so that
`torch.compile(fullgraph=True)` traces through it).  It checks its inputs first: rank, axis
sizes agreeing across arguments, dtype (fp16/bf16/fp32 for float arguments, bool for masks),
device (CUDA, or CPU under TRITON_INTERPRET=1); each failure is one line naming the argument and
axis.  Any strides are accepted (contiguous or not): the kernel takes one stride per named axis.

`CONFIG` in the module holds the launch configuration (block_m, block_n, num_warps, num_stages,
splits); a field left None is chosen per call shape (and cached per shape): on a GPU, the
candidate the napkin cost model ranks first among the unsplit kernel and split-KV in 2..64
parts × `CONFIGS` (the config space `wirefuse explain` searches), for that GPU (the module
embeds lowering/cost/core.py, the stream form's profile and the device figures, so it needs no
wirefuse at run time; see `choose` in the module); off the GPU (the interpreter) small blocks.
`autotune(*args)` times the model's short list (its first three tile shapes; or given configs)
on real inputs and keeps the fastest for that call shape; exported with `tune=K` (`--tune K`),
the module does so by itself at each new call shape on a GPU.

Python: `export(fn, axes=..., stream=...)` proves (wirefuse.prove: search/prover.py), generates, writes the module to a cache folder, imports
it and returns the function.  CLI: `wirefuse export FILE.py:FUNC --axes ... --stream j -o OUT.py`.
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import pprint
import sys
import tempfile

from wirefuse.rewrite.errors import UserError
from wirefuse.lowering.cost import core as cost_core
from wirefuse.lowering.cost.model import profile
from wirefuse.lowering.cost.ranking import SPACE
from wirefuse.lowering.cost.hardware import DEVICES
from wirefuse.lowering.loopnest.nest import (build_loopnest, certificate_degrees,
                                             check_causal_skip, simplify_tail)
from wirefuse.lowering.codegen.source import kernel_source
from wirefuse.rewrite.ir.sexpr import to_sexpr
from wirefuse.theorems.stream import StreamForm


class NotProven(UserError):
    """The function is not proven streamable along the axis: nothing to export (exit 1)."""
    exit_code = 1


def _pretty(sf: StreamForm) -> list[str]:
    out = [f"streamed along {sf.axis}"]
    for c in sf.components:
        out.append(f"  state {c.name} = {c.monoid}@{sf.axis} {to_sexpr(c.body)}")
    out.append(f"  tail  {to_sexpr(sf.tail)}")
    out.append(f"  shift {to_sexpr(sf.shift) if sf.shift is not None else 'none (no rescaling)'}")
    return out


CONFIG_FIELDS = ("block_m", "block_n", "num_warps", "num_stages", "splits")


def config_problem(c, fields, flags=False):
    """What is wrong with a launch-config dict (`fields` its keys; a value None: the model's
    choice), in one line, or "" when nothing is.  One rule set for `export(config=...)`,
    `wirefuse export --block-m ...` (`flags`: name the command-line flags) and a module's
    `autotune(configs=...)`: its source is embedded in every generated module, so it uses
    nothing but builtins."""
    if not isinstance(c, dict):
        return f"each config is a dict of {', '.join(fields)}; got {type(c).__name__} {c!r}"
    for k, v in c.items():
        if k not in fields:
            return f"unknown config field {k!r}; the fields are {', '.join(fields)}"
        least = 16 if k in ("block_m", "block_n") else 1  # tl.dot's least tile side
        pow2 = k in ("block_m", "block_n", "num_warps")
        whole = isinstance(v, int) and not isinstance(v, bool)  # True is an int to Python
        if v is not None and (not whole or v < least or (pow2 and v & (v - 1))):
            said = f"--{k.replace('_', '-')} {v}" if flags else f"{k}={v!r}"
            return said + "; give " + (f"a power of two, at least {least}" if pow2 else
                                       "a positive integer") + (
                " (or leave it out: the model's choice)" if flags else
                " (or None: the model's choice)")
    return ""


def module_source(name: str, params: list[str], axes: dict[str, tuple[str, ...]],
                  sf: StreamForm, term=None, certificate: dict | None = None,
                  causal: str | None = None, config: dict | None = None, tune: int = 0) -> str:
    """The source text of the exported module for function `name`; `tune` > 1: the module
    times the cost model's first `tune` candidates at each new call shape (its TUNE)."""
    if not name.isidentifier():
        raise UserError(f"cannot export {name!r}: not a Python identifier")
    simple = StreamForm(sf.axis, sf.components, simplify_tail(sf.tail), sf.shift)
    degrees = certificate_degrees(certificate)
    nest = build_loopnest(simple, causal=causal, degrees=degrees)
    if causal:
        check_causal_skip(nest)
    for p in nest.inputs:
        if p not in params and p not in {s.name for s in nest.stats}:  # stats: pre-pass buffers
            raise UserError(f"the term reads input {p!r}, which is not a positional argument of "
                            f"{name} ({', '.join(params)})")
    dtypes = {p: nest.inputs[p].dtype if p in nest.inputs else "float" for p in params}
    float_args = [p for p in params if dtypes[p] != "bool"]
    if not float_args:
        raise UserError(f"{name} has no floating-point tensor argument to take the dtype from")
    header = [f"Generated by wirefuse: `{name}` as a fused Triton kernel (do not edit; "
              "regenerate with `wirefuse export`).", ""]
    if term is not None:
        header += ["Source term:", f"    {to_sexpr(term)}", ""]
    if certificate is not None:
        digest = hashlib.sha256(repr(sorted(certificate.items())).encode()).hexdigest()[:16]
        header += [f"Certificate: {certificate.get('format', '?')}, {len(certificate.get('steps', []))}"
                   f" rewrite step(s), sha256 {digest}", ""]
    header += ["Stream form (as proven):"] + ["    " + x for x in _pretty(sf)]
    header += ["", f"Tail as computed (sympy-cancelled): {to_sexpr(nest.tail)}"]
    if causal:
        header += ["", f"causal: the mask argument {causal!r} is taken to be j ≤ i (torch.tril); "
                   "the kernel computes it from indices and does not read the tensor."]
    cfg = dict.fromkeys(CONFIG_FIELDS)
    cfg.update({k: v for k, v in (config or {}).items() if v is not None})
    doc = "\n".join(header).replace('"""', "'''").replace("\\", "\\\\")
    sig = ", ".join(params)
    ann = ", ".join(f"{p}: torch.Tensor" for p in params)
    out_axes = nest.out_axes
    src = f'''"""{doc}
"""
import os
import types
{"import weakref" + chr(10) if causal else ""}
import torch
import triton
import triton.language as tl

ARGS = {params!r}
AXES = {dict((p, tuple(axes[p])) for p in params)!r}
DTYPES = {dtypes!r}  # "float": fp16/bf16/fp32; "bool": a mask
OUT_AXES = {tuple(out_axes)!r}
STREAM = {nest.stream!r}
ROW = {nest.row!r}
LIMITS = {dict((c.axis, 256) for c in nest.contractions) | ({nest.value: 256} if nest.value else {})!r}
{f"CAUSAL = {causal!r}  # the mask argument the kernel computes from indices (j ≤ i)" + chr(10) if causal else ""}CONFIG = {cfg!r}  # None: chosen per call shape by the cost model
# > 1: at each new call shape on a GPU, time the cost model's first TUNE candidates on the
# call's own arguments and keep the fastest (see _run); 0 or 1: launch the model's first
TUNE = {int(tune)}
CONFIGS = [dict(block_m=bm, block_n=bn, num_warps=w, num_stages=s)
           for bm in {SPACE["BLOCK_M"]!r} for bn in {SPACE["BLOCK_N"]!r}
           for w in {SPACE["num_warps"]!r} for s in {SPACE["num_stages"]!r}]
_FLOATS = (torch.float16, torch.bfloat16, torch.float32)


class InputError(ValueError):
    """A bad argument to {name}; the message names the argument and the axis."""


'''
    src += kernel_source(nest)
    src += f'''

_checked = {{}}  # (shape, dtype, device) of every argument -> (sizes, dtype): CUDA calls only


def _check(args):
    """Sizes of every named axis, after checking rank, dtype, device and agreement.  A call
    with the same shapes, dtypes and CUDA devices as an earlier good one reuses its answer."""
    try:
        key = tuple((x.shape, x.dtype, x.device) for x in args)
        hit = _checked.get(key)
    except (AttributeError, TypeError):  # not all tensors: the full check says which
        key = hit = None
    if hit is not None:
        return hit
    got = _check_all(args)
    if key is not None and all(x.device.type == "cuda" for x in args):
        _checked[key] = got
    return got


def _check_all(args):
    if len(args) != len(ARGS):
        raise InputError(f"{name} takes {{len(ARGS)}} tensors ({sig}), got {{len(args)}}")
    sz, where, dev, fdt = {{}}, {{}}, None, None
    interp = os.environ.get("TRITON_INTERPRET") == "1"
    for p, x in zip(ARGS, args):
        ax = AXES[p]
        if not isinstance(x, torch.Tensor):
            raise InputError(f"argument {{p}}: expected a torch.Tensor over ({{' '.join(ax)}}), "
                             f"got {{type(x).__name__}}")
        if x.dim() != len(ax):
            raise InputError(f"argument {{p}}: expected {{len(ax)}} dims ({{' '.join(ax)}}), got "
                             f"{{x.dim()}} (shape {{tuple(x.shape)}})")
        if DTYPES[p] == "bool":
            if x.dtype != torch.bool:
                raise InputError(f"argument {{p}}: expected a bool mask, got {{x.dtype}}")
        else:
            if x.dtype not in _FLOATS:
                raise InputError(f"argument {{p}}: dtype {{x.dtype}} is not supported (use "
                                 "float16, bfloat16 or float32)")
            if fdt is None:
                fdt = x.dtype
            elif x.dtype != fdt:
                raise InputError(f"argument {{p}}: dtype {{x.dtype}} differs from {{fdt}} of the "
                                 "first argument; convert one of them")
        if x.device.type != "cuda" and not (interp and x.device.type == "cpu"):
            raise InputError(f"argument {{p}}: tensor on {{x.device}}; the kernel needs CUDA "
                             "(or TRITON_INTERPRET=1 for CPU tensors)")
        if dev is None:
            dev = x.device
        elif x.device != dev:
            raise InputError(f"argument {{p}}: on {{x.device}} but earlier arguments are on {{dev}}")
        for a, n in zip(ax, x.shape):
            if a in sz and sz[a] != n:
                raise InputError(f"argument {{p}}: axis {{a}} has size {{n}} but {{where[a]}} gives "
                                 f"{{sz[a]}}")
            sz.setdefault(a, int(n))
            where.setdefault(a, p)
    for a, lim in LIMITS.items():
        if sz.get(a, 0) > lim:
            raise InputError(f"argument {{where[a]}}: axis {{a}} has size {{sz[a]}}; the kernel holds"
                             f" it whole, at most {{lim}}")
    return sz, fdt


def _heuristic(sz, device, dtype):
    """CONFIG with its unset fields filled by rules of thumb: off the GPU (the interpreter)
    small blocks and no split; on a GPU, the fallback when the cost model accepts no
    candidate (see choose)."""
    cfg = dict(CONFIG)
    gpu = device.type == "cuda"
    wide = dtype == torch.float32  # fp32 tiles take twice the shared memory
    if cfg["block_m"] is None:
        cfg["block_m"] = 16 if not gpu or sz[ROW] <= 16 else 64 if wide or sz[ROW] <= 64 else 128
    if cfg["block_n"] is None:
        cfg["block_n"] = 16 if not gpu else 32 if wide else 64
    if cfg["num_warps"] is None:
        cfg["num_warps"] = 8 if gpu and cfg["block_m"] >= 128 else 4
    if cfg["num_stages"] is None:
        cfg["num_stages"] = 1 if not gpu else 2 if wide else 3
    if cfg["splits"] is None:  # split the keys when rows x groups leave SMs idle (decoding)
        cfg["splits"] = 1
        if gpu:
            progs = _cdiv(sz[ROW], cfg["block_m"])
            for a in OUT_AXES:
                if a != ROW and a in sz and a not in LIMITS:
                    progs *= sz[a]
            sms = torch.cuda.get_device_properties(device).multi_processor_count
            if progs < sms:
                cfg["splits"] = max(1, min(_cdiv(4 * sms, progs),
                                           _cdiv(sz[STREAM], cfg["block_n"])))
    return cfg


{_chooser(profile(sf, term if term is not None else sf.as_term(), causal or nest.skips_causal,
                  degrees))}


{_CAUSAL_CHECK if causal else ""}
_configs = {{}}  # (size buckets, device, dtype, CONFIG) -> the launch config


def _bucket(n):
    """n rounded up to the next of 2^k·(1, 1.25, 1.5, 1.75) (at most 25 % more): the config
    is chosen for the bucket, so a decoding loop whose key count grows by one each step
    chooses (some milliseconds of host time) about four times per doubling, not every step."""
    if n <= 16:
        return n
    step = (1 << (n.bit_length() - 1)) // 4
    return -(-n // step) * step


def _shape_key(sz, dev, fdt):
    """(the sizes the config is chosen for: each bucketed, but the axes held whole; the
    `_configs` key of a call shape with the current CONFIG), for _run and autotune alike."""
    rep = {{a: n if a in LIMITS else _bucket(n) for a, n in sz.items()}}
    return rep, (tuple(rep.values()), dev, fdt, tuple(CONFIG.values()))


def _run(args):
    """Check the arguments, choose the config and launch: the custom op's implementation."""
    sz, fdt = _check(args)
{"    _check_causal(args[ARGS.index(CAUSAL)])" + chr(10) if causal else ""}    dev = args[0].device
    out = torch.empty([sz[a] for a in OUT_AXES], dtype=fdt, device=dev)
    if out.numel() == 0:
        return out
    rep, key = _shape_key(sz, dev, fdt)
    cfg = _configs.get(key)
    if cfg is None:
        if not _wants_tuning(dev):
            cfg = _configs[key] = _config(rep, dev, fdt)
        elif _can_time(dev):
            tuned = _fastest(_candidates(rep, dev, fdt, TUNE),
                             lambda c: _time_launch(args, sz, out, c))
            cfg = _configs[key] = tuned[0] if tuned else _config(rep, dev, fdt)
        else:  # a CUDA graph is being captured: the model's first, tuned at a later eager call
            cfg = _config(rep, dev, fdt)
    while True:
        try:
            return _launch(dict(zip(ARGS, args)), sz, out, cfg)
        except triton.runtime.errors.OutOfResources as e:
            # the model's shared-memory estimate is an estimate: Triton's own allocation (layout
            # conversions, fp32 operands) can exceed it.  Step down and remember what fits.
            smaller = _smaller(cfg)
            if smaller is None:
                raise InputError(f"no launch config of {name} fits this GPU for sizes {{sz}} "
                                 f"(last tried {{cfg}}: {{str(e).splitlines()[0]}}); set "
                                 "CONFIG fields or export with smaller --block-n") from None
            cfg = _configs[key] = smaller


def _wants_tuning(dev):
    """Whether a new call shape times the model's short list first (TUNE > 1, on a GPU)."""
    return TUNE > 1 and dev.type == "cuda"


def _can_time(dev):
    """Whether launches can be timed now: on a GPU, and not while a CUDA graph is being
    captured (a capture records launches without running them)."""
    return dev.type == "cuda" and not torch.cuda.is_current_stream_capturing()


def _candidates(rep, dev, fdt, top):
    """The cost model's first `top` launch configs for these sizes on this GPU, or the
    rule-of-thumb config alone where it accepts none."""
    return candidates(rep, fdt, *_gpu(dev), top=top) or [_heuristic(rep, dev, fdt)]


def _time_launch(args, sz, out, cfg, ms=10):
    """Median milliseconds of one launch with config `cfg` on the call's own arguments
    (triton.testing.do_bench: the first call compiles, L2 is flushed between calls)."""
    named = dict(zip(ARGS, args))
    return triton.testing.do_bench(lambda: _launch(named, sz, out, cfg), warmup=max(1, ms // 4),
                                   rep=ms, return_mode="median")


{inspect.getsource(config_problem)}

def _check_config(c, fields):
    """A one-line InputError for a bad config dict a user passed (autotune's configs)."""
    problem = config_problem(c, fields)
    if problem:
        raise InputError("autotune: " + problem)


def _fastest(configs, time_one):
    """(config, ms) of the config `time_one` times fastest, or None when none runs; a config
    the GPU cannot hold (Triton's OutOfResources: shared memory, registers) is skipped."""
    best = None
    for cfg in configs:
        try:
            ms = time_one(cfg)
        except triton.runtime.errors.OutOfResources:
            continue
        if best is None or ms < best[1]:
            best = (cfg, ms)
    return best


def _smaller(cfg):
    """The next config down when one does not fit: fewer stages, then BLOCK_N, then BLOCK_M."""
    if cfg["num_stages"] > 1:
        return dict(cfg, num_stages=cfg["num_stages"] - 1)
    if cfg["block_n"] > 16:
        return dict(cfg, block_n=cfg["block_n"] // 2, num_stages=2)
    if cfg["block_m"] > 16:
        bm = cfg["block_m"] // 2
        # the warps the user fixed in CONFIG stay; else one warpgroup per 64 rows, as the cost
        # model assumes on the H100
        warps = CONFIG["num_warps"] if CONFIG["num_warps"] is not None else max(4, bm // 16)
        return dict(cfg, block_m=bm, num_warps=warps, num_stages=2)
    return None


@torch.library.custom_op("wirefuse::{name}", mutates_args=())
def _op({ann}) -> torch.Tensor:
    return _run(({sig},))


@_op.register_fake
def _({sig}):
    args = ({sig},)
    sz, fdt = _check(args)
    return args[0].new_empty([sz[a] for a in OUT_AXES], dtype=fdt)


def _plain_eager(args):
    """True when calling the implementation directly is exactly what the op would do: plain
    tensors without autograd, no torch.compile or torch.jit.trace, no dispatch or
    torch-function mode, no functorch transform.  The op's Python dispatch costs tens of
    microseconds per call, which is most of a decoding step; everything else goes through
    the op."""
    if torch.compiler.is_compiling() or torch.jit.is_tracing():
        return False
    if any(type(x) is not torch.Tensor for x in args):
        return False
    if torch.is_grad_enabled() and any(x.requires_grad for x in args):
        return False
    try:
        return not (torch._C._len_torch_dispatch_stack() or
                    torch._C._is_torch_function_mode_enabled() or
                    torch._C._are_functorch_transforms_active())
    except AttributeError:  # a torch without these private queries: take the op's path
        return False


def {name}({sig}):
    """The fused kernel for `{name}` (same positional arguments and result as the source)."""
    args = ({sig},)
    if _plain_eager(args):
        return _run(args)
    if not torch.compiler.is_compiling():  # under torch.compile the fake implementation checks
        _check(args)
    return _op({sig})


def autotune(*args, top=3, configs=None, ms=20):
    """Time launch configs on `args` (CUDA tensors) and keep the fastest for their call shape
    (later calls of that shape bucket launch it); returns (config, ms), or None when none runs.

    The configs: the cost model's first `top` candidates for this shape (tile config and
    split-KV parts, CONFIG's set fields fixed), or `configs` (dicts of CONFIG's fields; a
    field one leaves out is CONFIG's, else the model's choice given the others).  `ms`: the
    timing budget per config.  Exporting with `--tune K` does the first at each new shape."""
    global CONFIG
    sz, fdt = _check(args)
    dev = args[0].device
    if not _can_time(dev):
        raise InputError(f"autotune times launches on a GPU; the arguments are on {{dev}}"
                         + (" (a CUDA graph is being captured)" if dev.type == "cuda" else ""))
    if configs is None and (not isinstance(top, int) or top < 1):
        raise InputError(f"autotune: top={{top!r}}; give how many of the model's candidates to "
                         "time (1 or more)")
    out = torch.empty([sz[a] for a in OUT_AXES], dtype=fdt, device=dev)
    if out.numel() == 0:  # nothing to compute, so nothing to time
        return None
    rep, key = _shape_key(sz, dev, fdt)
    if configs is None:
        tried = _candidates(rep, dev, fdt, top)
    else:
        base, tried = CONFIG, []
        try:
            for c in ([configs] if isinstance(configs, dict) else configs):
                _check_config(c, base)
                CONFIG = dict(base, **c)
                tried.append(_config(rep, dev, fdt))
        finally:
            CONFIG = base
    best = _fastest(tried, lambda c: _time_launch(args, sz, out, c, ms))
    if best is not None:
        _configs[key] = best[0]
    return best
'''
    return src


def _chooser(prof: dict) -> str:
    """The generated module's launch-config chooser: lowering/cost/core.py's source verbatim
    (run in a namespace of its own, so its names cannot clash with the function's), the stream
    form's profile and every device's figures as data, and `choose` / `_config` / `_gpu`."""
    core = inspect.getsource(cost_core)
    assert "'''" not in core and "\\" not in core, "cost_core.py must fit in a raw ''' string"
    fmt = lambda x: pprint.pformat(x, width=96, sort_dicts=False)
    devices = {n: s.figures() for n, s in DEVICES.items()}
    return (_CHOOSER.replace("@CORE@", core).replace("@PROFILE@", fmt(prof))
            .replace("@DEVICES@", fmt(devices)).replace("@SPLITS@", repr(cost_core.SPLITS)))


_CHOOSER = '''_COST_CORE = r\'\'\'@CORE@\'\'\'
_cost = types.ModuleType("wirefuse_cost_core")
exec(compile(_COST_CORE, "<wirefuse: lowering/cost/core.py>", "exec"), _cost.__dict__)

# The stream form as the cost model sees it (lowering/cost/model.py: profile) and the figures of
# the devices it knows (lowering/cost/hardware.py: Spec.figures), as of export time.
PROFILE = @PROFILE@
DEVICES = @DEVICES@
SPLITS = @SPLITS@
_DTYPES = {torch.bfloat16: ("bf16", 2), torch.float16: ("fp16", 2), torch.float32: ("fp32", 4)}
_KEYS = (("block_m", "BLOCK_M"), ("block_n", "BLOCK_N"), ("num_warps", "num_warps"),
         ("num_stages", "num_stages"))
_NEEDS = {a for axes in PROFILE["inputs"].values() for a in axes}


def candidates(sz, dtype, gpu="NVIDIA H100 80GB HBM3", sms=None, limits=None, capability=None,
               top=1):
    """The `top` launch configs the napkin cost model ranks first for axis sizes `sz` and torch
    `dtype` on the GPU named `gpu` (torch.cuda.get_device_name), best first, one per tile shape
    (BLOCK_M, BLOCK_N, split count: the first config of each); [] when it accepts none.

    Candidates: the unsplit kernel and split-KV with SPLITS parts, times every config of
    CONFIGS, with CONFIG's set fields (the user's overrides) fixed.  Ranked exactly as
    `wirefuse explain` / lowering.cost.ranking.rank rank them (same arithmetic, same order).
    Device figures: those of the known device whose name `gpu` contains (h100, h200, a100); an
    unknown GPU, or a known one with another SM count `sms`, gets the H100's figures scaled by
    SM count (compute and L2 rates in proportion; HBM bandwidth and latencies as the H100's)
    with the SMEM/register `limits` torch reports for it; a `capability` (major, minor) other
    than 9.x turns the wgmma warpgroup rule off.  fp32 arguments: the kernel's dots run in IEEE
    fp32 on the FP32 units (no wgmma); the figures' fp32 "tensor" rate is that rate.  Costs
    some milliseconds of host time; _run caches the answer per shape."""
    fixed = {k: v for k, v in CONFIG.items() if v is not None}
    if len(fixed) == len(CONFIG):  # the user set every field: nothing to choose
        return [dict(CONFIG)]
    if dtype not in _DTYPES or not _NEEDS <= set(sz):
        return []
    name, elt = _DTYPES[dtype]
    figs, _ = _cost.device_figures(DEVICES, gpu, sms, limits, capability)
    configs, seen = [], set()
    for c in CONFIGS:
        c = dict(c, **{k: v for k, v in fixed.items() if k != "splits"})
        key = tuple(c[k] for k, _ in _KEYS)
        if key not in seen:
            seen.add(key)
            configs.append({m: c[k] for k, m in _KEYS})
    splits = (fixed["splits"],) if "splits" in fixed else SPLITS
    return [dict({k: cfg[m] for k, m in _KEYS}, splits=p)
            for cfg, p, _, _ in _cost.ranked(PROFILE, sz, name, elt, figs, configs, splits, top,
                                             per_tile=True)]


def choose(sz, dtype, gpu="NVIDIA H100 80GB HBM3", sms=None, limits=None, capability=None):
    """The launch config the cost model ranks first (candidates' first), or None when it
    accepts none."""
    best = candidates(sz, dtype, gpu, sms, limits, capability)
    return best[0] if best else None


def _gpu(device):
    """(name, SM count, limits, compute capability) of a CUDA device as torch reports them;
    limits a torch version does not report are left out."""
    props = torch.cuda.get_device_properties(device)
    limits = {k: getattr(props, a, None) for k, a in (
        ("smem_per_block", "shared_memory_per_block_optin"),
        ("smem_per_sm", "shared_memory_per_multiprocessor"),
        ("regs_per_sm", "regs_per_multiprocessor"),
        ("max_threads_per_sm", "max_threads_per_multi_processor"))}
    return props.name, props.multi_processor_count, limits, (props.major, props.minor)


def _config(sz, device, dtype):
    """The launch config: on a GPU, the cost model's top-1 for this shape there (choose);
    off the GPU (the interpreter), or when the model accepts no candidate, _heuristic."""
    if device.type == "cuda":
        cfg = choose(sz, dtype, *_gpu(device))
        if cfg is not None:
            return cfg
    return _heuristic(sz, device, dtype)
'''


def _prove(fn, axes, stream: str):
    """(stream form, certificate, term) from wirefuse.prove (search/prover.py, the one proof
    pipeline: streamable only with a certificate the checker accepted), or NotProven."""
    from wirefuse.search.prover import prove
    proof = prove(fn, axes, stream)
    if not proof.streamable:
        name = getattr(fn, "__name__", "the function")
        raise NotProven(f"{name} is not proven streamable along {stream}: {proof.reason}")
    return proof.stream_form, proof.certificate, proof.term


_CAUSAL_CHECK = '''
_causal_ok = (lambda: None, -1)  # (weak reference to the last mask verified, its version)


def _check_causal(mask):
    """The kernel computes the causal mask from indices instead of reading it, so the tensor
    passed must be exactly j ≤ i (torch.tril) over (ROW, STREAM).  Verified once per tensor and
    version: reusing the same, unmodified mask costs nothing; an in-place change is re-checked."""
    global _causal_ok
    if _causal_ok[0]() is mask and _causal_ok[1] == mask._version:
        return
    ax = AXES[CAUSAL]
    r, c = ax.index(ROW), ax.index(STREAM)
    rows = torch.arange(mask.shape[r], device=mask.device)
    cols = torch.arange(mask.shape[c], device=mask.device)
    want = cols[None, :] <= rows[:, None]
    if not bool((mask.movedim((r, c), (-2, -1)) == want).all()):
        raise InputError(f"argument {CAUSAL}: this kernel was exported with causal={CAUSAL!r}, "
                         f"so it must be the causal mask {STREAM} <= {ROW} (torch.tril); it is "
                         "not: export without --causal to use an arbitrary mask")
    _causal_ok = (weakref.ref(mask), mask._version)

'''


def export_source(fn, axes, stream: str, causal: str | None = None,
                  config: dict | None = None, tune: int = 0) -> str:
    """Prove `fn` streamable along `stream` and return the exported module's source."""
    from wirefuse.rewrite.trace.axes import axes_for_function
    if tune < 0:
        raise UserError(f"tune={tune}: give how many of the cost model's candidates to time "
                        "(0: launch its first untimed)")
    problem = config_problem(config or {}, CONFIG_FIELDS)
    if problem:
        raise UserError("config: " + problem)
    amap = axes_for_function(fn, axes)
    sf, cert, term = _prove(fn, axes, stream)
    return module_source(fn.__name__, list(amap), amap, sf, term, cert, causal, config, tune)


def load_module(path: str, name: str | None = None):
    """Import a generated module from its file (Triton needs the source on disk)."""
    mod_name = name or "_wirefuse_kernel_" + hashlib.sha256(path.encode()).hexdigest()[:12]
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
    return module


def export(fn, axes, stream: str = "j", causal: str | None = None, config: dict | None = None,
           out: str | None = None, tune: int = 0):
    """Prove, generate, write (to `out` or a cache folder) and import; returns the function.
    `tune` > 1: at each new call shape on a GPU, the module times the cost model's first
    `tune` candidates on the call's arguments and keeps the fastest.

    Exporting the same source again returns the module already imported (custom op names are
    process-global); a different kernel for the same function name raises a UserError."""
    src = export_source(fn, axes, stream, causal, config, tune)
    digest = hashlib.sha256(src.encode()).hexdigest()[:12]
    if out is None:
        folder = os.path.join(tempfile.gettempdir(), "wirefuse_kernels")
        os.makedirs(folder, exist_ok=True)
        out = os.path.join(folder, f"{fn.__name__}_{digest}.py")
    with open(out, "w") as f:
        f.write(src)
    try:
        mod = load_module(out, f"_wirefuse_kernel_{fn.__name__}_{digest}")
    except RuntimeError as e:
        if "already" in str(e):
            raise UserError(f"a different kernel for {fn.__name__} is already registered as "
                            f"wirefuse::{fn.__name__} in this process; restart to re-export (to "
                            "change only CONFIG or TUNE, set them on the loaded module, "
                            "sys.modules[f.__module__] of the function f export returned)") from None
        raise
    return getattr(mod, fn.__name__)
