"""An exported module launches what the cost model ranks first (README.md, Commands): its choice
per call shape equals lowering.cost.ranking.best_candidate / `wirefuse explain` for the same
device figures; CONFIG's fields (the user's overrides) still win; off the GPU nothing changed.

No GPU is needed: `choose` takes the GPU's name, and `_config` is called with a CUDA device
object while the module's `_gpu` query is replaced by a fake H100."""
import json

import pytest
import torch

from wirefuse.cli import main
from wirefuse.kernels.export import export_source, load_module, module_source
from wirefuse.lowering.cost.model import reference_form
from wirefuse.lowering.cost.ranking import best_candidate, config_space, export_config
from wirefuse.loading import load_function

AX = {"q": ("b", "h", "i", "d"), "k": ("b", "h", "j", "d"), "v": ("b", "h", "j", "e")}
NAMES = {"h100": "NVIDIA H100 80GB HBM3", "h200": "NVIDIA H200", "a100": "NVIDIA A100-SXM4-80GB"}
D = 128
SIZES = [  # prefill, a chunk of queries, decoding at b = 1 / 4, h = 8 / 16, 8K .. 128K keys
    dict(b=1, h=16, i=4096, j=4096, d=D, e=D), dict(b=2, h=16, i=2048, j=2048, d=64, e=64),
    dict(b=1, h=8, i=3072, j=3072, d=D, e=D), dict(b=1, h=16, i=128, j=32768, d=D, e=D),
    dict(b=1, h=8, i=1, j=8192, d=D, e=D), dict(b=1, h=16, i=1, j=65536, d=D, e=D),
    dict(b=1, h=8, i=1, j=131072, d=D, e=D), dict(b=4, h=8, i=1, j=32768, d=D, e=D),
    dict(b=4, h=16, i=1, j=8192, d=D, e=D), dict(b=1, h=32, i=1, j=24576, d=D, e=D)]


@pytest.fixture(scope="module", params=["spherical", "softmax"])
def exported(request, tmp_path_factory):
    sf, term = reference_form(request.param)
    name = f"choice_{request.param}"
    path = tmp_path_factory.mktemp("choice") / f"{name}.py"
    path.write_text(module_source(name, ["q", "k", "v"], AX, sf, term))
    mod = load_module(str(path))
    yield mod, sf, term
    mod.CONFIG = dict.fromkeys(mod.CONFIG)


@pytest.mark.parametrize("sz", SIZES, ids=lambda s: "b{b}h{h}i{i}j{j}d{d}".format(**s))
def test_choice_is_the_models_top1(exported, sz):
    mod, sf, term = exported
    for dev, dtype, tdtype in [("h100", "bf16", torch.bfloat16), ("h100", "fp16", torch.float16),
                               ("h200", "bf16", torch.bfloat16), ("a100", "bf16", torch.bfloat16)]:
        want = export_config(best_candidate(sf, term, sz, dtype, dev))
        assert mod.choose(dict(sz), tdtype, NAMES[dev]) == want, (dev, dtype)


def test_decoding_splits_and_prefill_does_not(exported):
    mod, _, _ = exported
    assert mod.choose(dict(SIZES[5]), torch.bfloat16)["splits"] > 1      # 16 rows, 64K keys
    assert mod.choose(dict(SIZES[0]), torch.bfloat16)["splits"] == 1     # 4K × 4K


def test_user_config_fields_win(exported):
    mod, sf, term = exported
    sz = SIZES[5]
    try:
        mod.CONFIG = dict(mod.CONFIG, splits=1)     # e.g. `wirefuse export --splits 1`
        want = export_config(best_candidate(sf, term, sz, forms=("fused",)))
        assert mod.choose(dict(sz), torch.bfloat16) == want and want["splits"] == 1
        mod.CONFIG = dict.fromkeys(mod.CONFIG) | {"block_m": 64, "num_stages": 2}
        want = export_config(best_candidate(
            sf, term, sz, configs=config_space(block_m=(64,), stages=(2,))))
        got = mod.choose(dict(sz), torch.bfloat16)
        assert got == want and got["block_m"] == 64 and got["num_stages"] == 2
        full = dict(block_m=32, block_n=32, num_warps=8, num_stages=4, splits=3)
        mod.CONFIG = dict(full)                     # every field set: exactly that
        assert mod.choose(dict(sz), torch.bfloat16) == full
    finally:
        mod.CONFIG = dict.fromkeys(mod.CONFIG)


def test_unknown_gpu_takes_h100_figures_scaled_by_sm_count(exported):
    mod, sf, term = exported
    sz = SIZES[7]
    h100 = mod.choose(dict(sz), torch.bfloat16, NAMES["h100"])
    assert mod.choose(dict(sz), torch.bfloat16, "Some Future GPU", sms=132) == h100
    figs, how = mod._cost.device_figures(mod.DEVICES, "Some Future GPU", 66,
                                         {"smem_per_block": 99 * 1024})
    assert "scaled by SM count" in how and figs["sms"] == 66
    assert figs["tensor"]["bf16"] == pytest.approx(mod.DEVICES["h100"]["tensor"]["bf16"] / 2)
    small = mod.choose(dict(sz), torch.bfloat16, "Some Future GPU", sms=66,
                       limits={"smem_per_block": 99 * 1024})
    space = {(c["block_m"], c["block_n"], c["num_warps"], c["num_stages"]) for c in mod.CONFIGS}
    assert (small["block_m"], small["block_n"], small["num_warps"], small["num_stages"]) in space
    # what fits 99 KB: the streamed K and V tiles, num_stages deep, plus the q tile (bf16)
    assert 2 * (small["block_m"] * D + small["num_stages"] * small["block_n"] * 2 * D) \
        <= 99 * 1024


def test_config_on_gpu_is_the_choice_and_off_gpu_unchanged(exported, monkeypatch):
    mod, _, _ = exported
    sz = dict(SIZES[7])
    monkeypatch.setattr(mod, "_gpu", lambda device: (NAMES["h100"], 132, {}))
    assert mod._config(sz, torch.device("cuda"), torch.bfloat16) == \
        mod.choose(sz, torch.bfloat16, NAMES["h100"])
    # the interpreter (CPU): small blocks, no split, as before
    assert mod._config(sz, torch.device("cpu"), torch.float32) == \
        dict(block_m=16, block_n=16, num_warps=4, num_stages=1, splits=1)


ATT_PY = '''
import torch

def spherical(q, k, v):
    s = (q @ k.transpose(-1, -2)) * 0.088
    return (s / s.norm(dim=-1, keepdim=True)) @ v


def softmax(q, k, v):
    return torch.softmax((q @ k.transpose(-1, -2)) * 0.088, dim=-1) @ v
'''
AXES = "q: b h i d, k: b h j d, v: b h j e"


@pytest.mark.parametrize("fn_name", ["spherical", "softmax"])
def test_explain_top1_is_what_the_module_launches(tmp_path, capsys, monkeypatch, fn_name):
    src = tmp_path / "att.py"
    src.write_text(ATT_PY)
    fn = load_function(f"{src}:{fn_name}")
    out = tmp_path / f"{fn_name}_kernel.py"
    out.write_text(export_source(fn, AXES, "j"))
    mod = load_module(str(out), f"_choice_cli_{fn_name}")
    monkeypatch.setattr(mod, "_gpu", lambda device: (NAMES["h100"], 132, {}))
    for sz in (SIZES[0], SIZES[5], SIZES[7]):
        spec = ",".join(f"{a}={n}" for a, n in sz.items())
        assert main(["explain", f"{src}:{fn_name}", "--axes", AXES, "--sizes", spec,
                     "--json", "--top", "1000"]) == 0
        cands = json.loads(capsys.readouterr()[0])["candidates"]
        top = next(c for c in cands if c["form"] != "unfused")
        cfg = top["config"]
        want = dict(block_m=cfg["BLOCK_M"], block_n=cfg["BLOCK_N"], num_warps=cfg["num_warps"],
                    num_stages=cfg["num_stages"], splits=top["splits"])
        assert mod._config(dict(sz), torch.device("cuda"), torch.bfloat16) == want


def test_choice_is_made_per_size_bucket(exported, monkeypatch):
    """A decoding loop grows the key count by one per step: the module chooses for the size
    rounded up to its bucket (≤ 25 % more), so a thousand steps cost a handful of choices, and
    what it launches is the model's top-1 for the bucket."""
    mod, sf, term = exported
    reps = [mod._bucket(n) for n in range(1, 70000)]
    assert all(n <= r <= max(16, 1.25 * n) for n, r in zip(range(1, 70000), reps))
    assert reps == sorted(reps) and len(set(reps)) < 80
    calls = []
    monkeypatch.setattr(mod, "_config", lambda sz, dev, dt: calls.append(dict(sz)) or
                        dict(block_m=16, block_n=16, num_warps=4, num_stages=1, splits=1))
    monkeypatch.setattr(mod, "_launch", lambda t, sz, out, cfg: out)
    q = torch.zeros(1, 2, 1, 16)
    for j in range(40, 140):
        kv = torch.zeros(1, 2, j, 16)
        mod._run((q, kv, kv))
    assert len(calls) == len({mod._bucket(j) for j in range(40, 140)}) <= 9  # 100 steps
    assert all(c["j"] == mod._bucket(c["j"]) for c in calls)


@pytest.mark.parametrize("name", ["causal", "alibi", "mqa"])
def test_side_inputs_and_shared_heads_keep_row_and_group_axes(name, tmp_path):
    """A mask over (i, j), a bias without the batch axis or K/V without the head axis must not
    hide the row and group axes from the model (it then rejected every config: the mask's
    whole |i|·|j| counted as one tile), so the module still launches the model's top-1."""
    import importlib.util
    import pathlib
    from wirefuse.loading import axes_for_function
    from wirefuse.report.html import analyse_function
    spec = importlib.util.spec_from_file_location(
        "_choice_examples", pathlib.Path(__file__).parent.parent / "examples" / "attention.py")
    A = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(A)
    fn, e = getattr(A, name), A.EXAMPLES[name]
    a = analyse_function(fn, e["axes"], "j")
    amap = axes_for_function(fn, e["axes"])
    path = tmp_path / f"side_{name}.py"
    path.write_text(module_source(f"side_{name}", list(amap), amap, a.stream_form, a.term))
    mod = load_module(str(path))
    sz = {ax: 4 for axes in amap.values() for ax in axes} | dict(i=4096, j=4096, d=D, e=D)
    assert mod.PROFILE["rows"] == ("i",)
    got = mod.choose(sz, torch.bfloat16)
    assert got is not None
    assert got == export_config(best_candidate(a.stream_form, a.term, sz, "bf16", "h100"))


def test_a_config_that_does_not_fit_steps_down(exported, monkeypatch):
    """The model's SMEM estimate can be below Triton's real allocation (seen on the H100 for an
    fp32 kernel at 128×128): the module then steps down (stages, BLOCK_N, BLOCK_M) until a
    launch fits, remembers it for the shape, and says so in one line when nothing fits."""
    import triton
    mod, _, _ = exported
    tried = []

    def launch(t, sz, out, cfg):
        tried.append(dict(cfg))
        if cfg["block_n"] * cfg["num_stages"] > 64:
            raise triton.runtime.errors.OutOfResources(262144, 232448, "shared memory")
        return out
    monkeypatch.setattr(mod, "_launch", launch)
    monkeypatch.setattr(mod, "_config", lambda sz, dev, dt: dict(
        block_m=128, block_n=128, num_warps=8, num_stages=3, splits=1))
    mod._configs.clear()
    q = torch.zeros(1, 2, 3, 16)
    mod._run((q, q, q))
    assert [(c["block_n"], c["num_stages"]) for c in tried] == [(128, 3), (128, 2), (128, 1),
                                                                (64, 2), (64, 1)]
    tried.clear()
    mod._run((q, q, q))  # remembered: one launch
    assert len(tried) == 1 and tried[0]["block_n"] == 64
    monkeypatch.setattr(mod, "_launch", lambda *a: (_ for _ in ()).throw(
        triton.runtime.errors.OutOfResources(1, 0, "shared memory")))
    mod._configs.clear()
    with pytest.raises(mod.InputError, match="no launch config .* fits this GPU") as e:
        mod._run((q, q, q))
    assert "\n" not in str(e.value)
    mod._configs.clear()


def test_step_down_keeps_the_users_num_warps(exported, monkeypatch):
    """Halving BLOCK_M on out-of-resources derives num_warps (one warpgroup per 64 rows, at
    least 4) only when CONFIG leaves it free; a num_warps the user fixed stays."""
    import triton
    mod, _, _ = exported
    tried = []

    def launch(t, sz, out, cfg):
        tried.append((cfg["block_m"], cfg["num_warps"], cfg["num_stages"]))
        if cfg["block_m"] > 32:
            raise triton.runtime.errors.OutOfResources(262144, 232448, "shared memory")
        return out
    monkeypatch.setattr(mod, "_launch", launch)
    q = torch.zeros(1, 2, 3, 16)
    try:
        for warps, want in ((8, [(128, 8, 1), (64, 8, 2), (64, 8, 1), (32, 8, 2)]),
                            (None, [(128, 8, 1), (64, 4, 2), (64, 4, 1), (32, 4, 2)])):
            mod.CONFIG = dict.fromkeys(mod.CONFIG) | {"num_warps": warps}
            monkeypatch.setattr(mod, "_config", lambda sz, dev, dt: dict(
                block_m=128, block_n=16, num_warps=8, num_stages=1, splits=1))
            mod._configs.clear()
            tried.clear()
            mod._run((q, q, q))
            assert tried == want, warps
    finally:
        mod.CONFIG = dict.fromkeys(mod.CONFIG)
        mod._configs.clear()


class _Props:
    """What torch.cuda.get_device_properties reports, for a GPU this machine does not have."""
    def __init__(self, name, sms, major, minor, smem_block):
        self.name, self.multi_processor_count, self.major, self.minor = name, sms, major, minor
        self.shared_memory_per_block_optin = smem_block
        self.shared_memory_per_multiprocessor = smem_block + 1024
        self.regs_per_multiprocessor, self.max_threads_per_multi_processor = 65536, 1536


def test_warpgroup_rule_only_where_the_dots_are_wgmma(exported, monkeypatch):
    """wgmma exists on sm_90 only, and fp32 tensors' dots (IEEE) are FMAs: BLOCK_M 64 on 8
    warps is refused for bf16 on an H100 (or an unknown sm_90 part) but taken for bf16 on an
    sm_89 card (the GPU's capability comes from torch's device properties) and for fp32."""
    mod, _, _ = exported
    sz = dict(SIZES[0])
    try:
        mod.CONFIG = dict.fromkeys(mod.CONFIG) | {"block_m": 64, "num_warps": 8}
        assert mod.choose(dict(sz), torch.bfloat16, NAMES["h100"]) is None
        assert mod.choose(dict(sz), torch.bfloat16, "Some Future GPU", 144, None, (9, 0)) is None
        got = mod.choose(dict(sz), torch.float32, NAMES["h100"])
        assert got is not None and (got["block_m"], got["num_warps"]) == (64, 8)
        ada = _Props("NVIDIA GeForce RTX 4090", 128, 8, 9, 99 * 1024)
        monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: ada)
        got = mod._config(dict(sz), torch.device("cuda"), torch.bfloat16)
        limits = dict(smem_per_block=99 * 1024, smem_per_sm=100 * 1024, regs_per_sm=65536,
                      max_threads_per_sm=1536)
        assert got == mod.choose(dict(sz), torch.bfloat16, ada.name, 128, limits, (8, 9))
        assert (got["block_m"], got["num_warps"]) == (64, 8)
        # what fits 99 KB: q once, the streamed K and V tiles num_stages deep (bf16)
        assert 2 * (64 * D + got["num_stages"] * got["block_n"] * 2 * D) <= 99 * 1024
    finally:
        mod.CONFIG = dict.fromkeys(mod.CONFIG)


# ---- tuning: the model's first K candidates timed on the call's own arguments

@pytest.mark.parametrize("sz", [SIZES[0], SIZES[3], SIZES[5], SIZES[9]],
                         ids=lambda s: "b{b}h{h}i{i}j{j}d{d}".format(**s))
def test_candidates_are_the_models_first_k(exported, sz):
    """What the module would time (TUNE, autotune) is the head of `wirefuse explain`'s ranking,
    in its order, one config per tile shape (BLOCK_M, BLOCK_N, splits), and its first is what
    the module launches untuned."""
    mod, sf, term = exported
    from wirefuse.lowering.cost.ranking import rank, shortlist
    ranked = rank(sf, term, sz, "bf16", "h100", forms=("fused", "split"))
    want = [export_config(c) for c in shortlist(ranked, 5)]
    got = mod.candidates(dict(sz), torch.bfloat16, NAMES["h100"], top=5)
    assert got == want and len(got) == 5
    assert got[0] == mod.choose(dict(sz), torch.bfloat16, NAMES["h100"])
    tiles = [(c["block_m"], c["block_n"], c["splits"]) for c in got]
    assert len(set(tiles)) == 5
    # each is the best-ranked config of its tile shape, and no tile shape ranked above the
    # last one taken is left out
    for c in got:
        first = next(x for x in ranked if (x.config["BLOCK_M"], x.config["BLOCK_N"],
                                            x.splits) == (c["block_m"], c["block_n"], c["splits"]))
        assert export_config(first) == c
    last = next(n for n, x in enumerate(ranked) if export_config(x) == got[-1])
    assert {(x.config["BLOCK_M"], x.config["BLOCK_N"], x.splits) for x in ranked[:last]} \
        <= set(tiles)


def test_fastest_keeps_the_quickest_that_fits(exported):
    import triton
    mod, _, _ = exported
    times = {16: 3.0, 32: 1.5, 64: None, 128: 2.0}   # None: does not fit the GPU

    def time_one(cfg):
        if times[cfg["block_m"]] is None:
            raise triton.runtime.errors.OutOfResources(262144, 232448, "shared memory")
        return times[cfg["block_m"]]
    cfgs = [dict(block_m=m) for m in times]
    assert mod._fastest(cfgs, time_one) == (dict(block_m=32), 1.5)
    assert mod._fastest([dict(block_m=64)], time_one) is None
    assert mod._fastest([], time_one) is None


@pytest.mark.parametrize("tune", [0, 3])
def test_tune_times_the_first_k_and_keeps_the_fastest(tmp_path, monkeypatch, tune):
    """Exported with tune=3, a new call shape times the model's first three candidates (on a
    GPU: faked here, the launches run in the interpreter) and launches, and remembers, the one
    that timed fastest, and the result is the function's; tune=0 launches the first, untimed."""
    src = tmp_path / "att.py"
    src.write_text(ATT_PY)
    fn = load_function(f"{src}:softmax")
    out = tmp_path / f"tuned_{tune}.py"
    out.write_text(export_source(fn, AXES, "j", tune=tune))
    mod = load_module(str(out), f"_tuned_softmax_{tune}")
    assert mod.TUNE == tune
    monkeypatch.setattr(mod, "_gpu", lambda device: (NAMES["h100"], 132, {}, (9, 0)))
    monkeypatch.setattr(mod, "_can_time", lambda dev: True)
    monkeypatch.setattr(mod, "_wants_tuning", lambda dev: mod.TUNE > 1)  # (dev is the CPU)
    timed = []

    def fake_time(args, sz, out, cfg, ms=10):
        timed.append(dict(cfg))
        return {0: 2.0, 1: 3.0, 2: 1.0}[len(timed) - 1]   # the third is fastest
    monkeypatch.setattr(mod, "_time_launch", fake_time)
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, n, 16, generator=g) for n in (24, 40, 40))
    got = mod.softmax(q, k, v)
    ref = torch.softmax((q.double() @ k.double().transpose(-1, -2)) * 0.088, -1) @ v.double()
    torch.testing.assert_close(got.double(), ref, rtol=1e-4, atol=1e-5)
    (key, cfg), = mod._configs.items()
    rep = dict(zip(mod._check((q, k, v))[0], key[0]))
    if tune:
        first3 = mod.candidates(rep, torch.float32, NAMES["h100"], top=3)
        assert len(first3) == 3 and timed == first3 and cfg == first3[2]
    else:  # untimed: _config's answer (on this CPU device, the interpreter's small blocks)
        assert timed == [] and cfg == mod._config(rep, q.device, torch.float32)
    timed.clear()
    mod.softmax(q, k, v)   # the same shape again: remembered, nothing timed
    assert timed == []


def test_autotune_refuses_cpu_tensors_in_one_line(exported):
    mod, _, _ = exported
    q = torch.zeros(1, 2, 3, 16)
    with pytest.raises(mod.InputError, match="autotune times launches on a GPU") as e:
        mod.autotune(q, q, q)
    assert "\n" not in str(e.value)


def test_cli_tune_flag(tmp_path, capsys):
    src = tmp_path / "att.py"
    src.write_text(ATT_PY)
    out = tmp_path / "k.py"
    assert main(["export", f"{src}:spherical", "--axes", AXES, "--stream", "j", "-o", str(out),
                 "--tune", "4"]) == 0
    assert "\nTUNE = 4\n" in out.read_text()
    assert main(["export", f"{src}:spherical", "--axes", AXES, "--stream", "j", "-o", str(out),
                 "--tune", "-1"]) == 2
    err = capsys.readouterr()[1].strip()
    assert err.startswith("wirefuse: error: --tune -1") and "\n" not in err


@pytest.mark.parametrize("config, says", [
    ({"block_m": 7}, "config: block_m=7; give a power of two, at least 16"),
    ({"num_warps": 3}, "config: num_warps=3; give a power of two, at least 1"),
    ({"splits": 0}, "config: splits=0; give a positive integer"),
    ({"num_warps": True}, "config: num_warps=True; give a power of two, at least 1"),
    ({"block_k": 16}, "config: unknown config field 'block_k'")])
def test_export_refuses_a_bad_config_in_one_line(tmp_path, capsys, config, says):
    """export(config=...) and `wirefuse export --block-m ...` check a config by the rules a
    module's autotune(configs=...) checks its configs by, before proving anything."""
    from wirefuse.rewrite.errors import UserError
    src = tmp_path / "att.py"
    src.write_text(ATT_PY)
    fn = load_function(f"{src}:spherical")
    with pytest.raises(UserError) as e:
        export_source(fn, AXES, "j", config=config)
    assert str(e.value).startswith(says) and "\n" not in str(e.value)
    flag = next(iter(config))
    if flag != "block_k" and not isinstance(config[flag], bool):  # (argparse's own ints)
        argv = ["export", f"{src}:spherical", "--axes", AXES, "--stream", "j", "-o",
                str(tmp_path / "k.py"), f"--{flag.replace('_', '-')}", str(config[flag])]
        assert main(argv) == 2
        err = capsys.readouterr()[1].strip()
        said = f"wirefuse: error: --{flag.replace('_', '-')} {config[flag]}; give"
        assert err.startswith(said) and "leave it out" in err and "\n" not in err
        assert not (tmp_path / "k.py").exists()


def test_autotune_names_an_unknown_config_field(exported, monkeypatch):
    mod, _, _ = exported
    monkeypatch.setattr(mod, "_can_time", lambda dev: True)
    q = torch.zeros(1, 2, 3, 16)
    with pytest.raises(mod.InputError, match="unknown config field 'blockm'") as e:
        mod.autotune(q, q, q, configs=[dict(blockm=64)])
    assert "\n" not in str(e.value) and mod.CONFIG == dict.fromkeys(mod.CONFIG)


@pytest.fixture
def timed_softmax(tmp_path, monkeypatch):
    """The softmax module as on an H100 whose launches can be timed: the launches run in the
    interpreter, `_time_launch` is a fake that records what it timed and makes the last config
    of each batch the fastest."""
    src = tmp_path / "att.py"
    src.write_text(ATT_PY)
    out = tmp_path / "timed.py"
    out.write_text(export_source(load_function(f"{src}:softmax"), AXES, "j"))
    mod = load_module(str(out), "_timed_softmax")
    monkeypatch.setattr(mod, "_gpu", lambda device: (NAMES["h100"], 132, {}, (9, 0)))
    monkeypatch.setattr(mod, "_can_time", lambda dev: True)
    timed = []

    def fake_time(args, sz, out, cfg, ms=10):
        timed.append(dict(cfg))
        return 10.0 - len(timed)
    monkeypatch.setattr(mod, "_time_launch", fake_time)
    mod._configs.clear()
    g = torch.Generator().manual_seed(1)
    args = tuple(torch.randn(1, 2, n, 16, generator=g) for n in (24, 40, 40))
    yield mod, timed, args
    mod._configs.clear()
    mod.CONFIG = dict.fromkeys(mod.CONFIG)


def _reference(q, k, v):
    return torch.softmax((q.double() @ k.double().transpose(-1, -2)) * 0.088, -1) @ v.double()


def test_autotune_keeps_its_pick_for_the_next_call(timed_softmax):
    mod, timed, args = timed_softmax
    best = mod.autotune(*args)
    assert len(timed) == 3 and best == (timed[-1], 7.0)
    assert list(mod._configs.values()) == [timed[-1]] and mod.CONFIG == dict.fromkeys(mod.CONFIG)
    timed.clear()
    launched = []
    real = mod._launch
    mod._launch = lambda t, sz, out, cfg: launched.append(dict(cfg)) or real(t, sz, out, cfg)
    try:
        got = mod.softmax(*args)
    finally:
        mod._launch = real
    assert timed == [] and launched == [best[0]]
    torch.testing.assert_close(got.double(), _reference(*args), rtol=1e-4, atol=1e-5)


def test_autotune_over_given_configs(timed_softmax):
    """Each given config's missing fields are the model's choice given the set ones; CONFIG is
    left as it was; the pick serves the next call of that shape."""
    mod, timed, args = timed_softmax
    best = mod.autotune(*args, configs=[dict(block_m=16, block_n=16), dict(block_n=32)])
    assert [(c["block_m"], c["block_n"]) for c in timed][:1] == [(16, 16)]
    assert timed[1]["block_n"] == 32 and all(v is not None for c in timed for v in c.values())
    assert best[0] == timed[1] and mod.CONFIG == dict.fromkeys(mod.CONFIG)
    assert list(mod._configs.values()) == [timed[1]]
    one = mod.autotune(*args, configs=dict(block_n=16))   # one dict: that config alone
    assert one[0]["block_n"] == 16


@pytest.mark.parametrize("kwargs, says", [
    (dict(configs=[(64, 64)]), "each config is a dict"),
    (dict(configs=[dict(block_n=7)]), "block_n=7; give a power of two, at least 16"),
    (dict(configs=[dict(num_stages=0)]), "num_stages=0; give a positive integer"),
    (dict(configs=[dict(blockm=64)]), "unknown config field 'blockm'"),
    (dict(top=0), "top=0; give how many"),
])
def test_autotune_refuses_bad_arguments_in_one_line(timed_softmax, kwargs, says):
    mod, timed, args = timed_softmax
    with pytest.raises(mod.InputError) as e:
        mod.autotune(*args, **kwargs)
    assert says in str(e.value) and "\n" not in str(e.value)
    assert timed == [] and mod.CONFIG == dict.fromkeys(mod.CONFIG)


def test_autotune_of_an_empty_output_times_nothing(timed_softmax):
    mod, timed, _ = timed_softmax
    q, kv = torch.zeros(1, 2, 0, 16), torch.zeros(1, 2, 40, 16)
    assert mod.autotune(q, kv, kv) is None and timed == []


def test_a_shape_first_seen_while_capturing_is_tuned_later(timed_softmax, monkeypatch):
    """During a CUDA graph capture launches cannot be timed: the call launches the model's
    first and remembers nothing, so the next eager call of that shape still tunes."""
    mod, timed, args = timed_softmax
    monkeypatch.setattr(mod, "TUNE", 3)
    monkeypatch.setattr(mod, "_wants_tuning", lambda dev: True)
    monkeypatch.setattr(mod, "_can_time", lambda dev: False)      # capturing
    torch.testing.assert_close(mod.softmax(*args).double(), _reference(*args),
                               rtol=1e-4, atol=1e-5)
    assert timed == [] and mod._configs == {}
    monkeypatch.setattr(mod, "_can_time", lambda dev: True)       # eager again
    mod.softmax(*args)
    assert len(timed) == 3 and list(mod._configs.values()) == [timed[-1]]
