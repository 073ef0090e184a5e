"""`wirefuse explain` and `wirefuse.explain`: JSON shape, ordering, and one-line errors."""
import json

import pytest

import wirefuse
from wirefuse.cli import main
from wirefuse.lowering.cost.model import SCORE, SOFTMAX, SPHERICAL

SIZES = "b=1,h=16,i=1,j=65536,d=128,e=128"


def explain(capsys, *extra):
    rc = main(["explain", "--term", SOFTMAX, "--shift", SCORE, "--sizes", SIZES, *extra])
    out, err = capsys.readouterr()
    return rc, out, err


def test_json_shape_and_order(capsys):
    rc, out, err = explain(capsys, "--json", "--top", "7")
    assert rc == 0, err
    cands = json.loads(out)["candidates"]
    assert len(cands) == 7
    for c in cands:
        assert c["form"] in ("fused", "split", "unfused")
        assert isinstance(c["splits"], int) and c["splits"] >= 1
        assert (c["splits"] > 1) == (c["form"] == "split")
        assert isinstance(c["config"], dict) and isinstance(c["predicted_ms"], float)
        assert c["bound"] in c["breakdown_ms"]
        assert {"tensor", "fp32", "sfu", "hbm"} <= set(c["breakdown_ms"])
        assert c["predicted_ms"] >= max(v for k, v in c["breakdown_ms"].items()
                                        if k != "launch")
    times = [c["predicted_ms"] for c in cands]
    assert times == sorted(times)
    assert cands[0]["form"] == "split"        # decoding: one query, 64K keys


def test_table(capsys):
    rc, out, _ = explain(capsys, "--top", "3", "--device", "h200")
    assert rc == 0
    lines = out.splitlines()
    assert "pred ms" in lines[0] and "bound" in lines[0]
    assert lines[2].split()[1] == "split"
    assert "more" in out


def test_h200_is_faster_than_a100_for_the_same_kernel(capsys):
    def best(dev):
        rc = main(["explain", "--term", SPHERICAL, "--sizes", SIZES, "--device", dev, "--json",
                   "--top", "1"])
        assert rc == 0
        return json.loads(capsys.readouterr()[0])["candidates"][0]["predicted_ms"]
    assert best("h200") < best("h100") < best("a100")


@pytest.mark.parametrize("extra,needle", [
    (["--sizes", "b=1,h=16,i=1,j=65536,d=128"], "no size for axis e"),
    (["--sizes", "b=1,h=16,i=1,j=6.5,d=128,e=128"], "positive integer"),
    (["--sizes", "b=1,h=16,i=1,j=0,d=128,e=128"], "positive integer"),
    (["--sizes", "b1"], "axis=N"),
    (["--device", "tpu"], "unknown device"),
    (["--dtype", "int4"], "unknown dtype"),
    (["--device", "a100", "--dtype", "fp8"], "fp8"),
    (["--top", "0"], "--top"),
])
def test_bad_input_is_one_line_exit_2(capsys, extra, needle):
    args = ["explain", "--term", SOFTMAX, "--sizes", SIZES] + extra
    rc = main(args)
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_not_normal_term_is_refused(capsys):
    rc = main(["explain", "--term", "(sum@j (exp (div s[i,j] (sum@j s[i,j]))))",
               "--sizes", "i=4,j=8"])
    assert rc == 2 and "not in stream normal form" in capsys.readouterr()[1]


def test_python_api():
    sizes = dict(b=1, h=16, i=4096, j=4096, d=128, e=128)
    ranked = wirefuse.explain(SPHERICAL, sizes=sizes, top=5)
    assert len(ranked) == 5 and ranked[0].form == "fused"
    assert [c.predicted_s for c in ranked] == sorted(c.predicted_s for c in ranked)
    from wirefuse.lowering.cost.model import reference_form
    sf, term = reference_form("spherical")
    best = wirefuse.best_candidate(sf, term, sizes, "bf16", "h100")
    assert best.to_json() == ranked[0].to_json()
    assert set(best.config) == {"BLOCK_M", "BLOCK_N", "num_warps", "num_stages"}


ATT_PY = '''
import torch

def spherical(q, k, v):
    s = (q @ k.transpose(-1, -2)) * 0.088
    return (s / s.norm(dim=-1, keepdim=True)) @ v
'''


def test_explain_a_function(tmp_path, capsys):
    f = tmp_path / "att.py"
    f.write_text(ATT_PY)
    rc = main(["explain", f"{f}:spherical", "--axes", "q: b h i d, k: b h j d, v: b h j e",
               "--stream", "j", "--sizes", SIZES, "--json", "--top", "1000"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    cands = json.loads(out)["candidates"]
    times = [c["predicted_ms"] for c in cands]
    assert times == sorted(times)
    assert cands[0]["form"] == "split"    # proven streamable; decoding: split-KV wins
    assert {c["form"] for c in cands} == {"unfused", "fused", "split"}


def test_unprovable_function_ranks_unfused_only(tmp_path, capsys):
    f = tmp_path / "med.py"
    f.write_text(MEDIAN_PY)
    rc = main(["explain", f"{f}:median_norm", "--axes", "q: b h i d, k: b h j d, v: b h j e",
               "--sizes", SIZES, "--json"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert [c["form"] for c in json.loads(out)["candidates"]] == ["unfused"]
    assert "not proven streamable" in err and err.count("\n") == 1


MEDIAN_PY = '''
import torch

def median_norm(q, k, v):
    s = q @ k.transpose(-1, -2)
    return (s / s.abs().median(dim=-1, keepdim=True).values) @ v
'''


def test_explain_needs_axes(tmp_path, capsys):
    f = tmp_path / "att.py"
    f.write_text(ATT_PY)
    rc = main(["explain", f"{f}:spherical", "--sizes", SIZES])
    assert rc == 2 and "--axes" in capsys.readouterr()[1]


def test_causal_mask_argument_is_costed_for_the_blocks_the_kernel_runs(capsys):
    """`--causal MASK` (as `export --causal`): the kernel skips key blocks past the diagonal,
    so the same function is predicted to do about half the tensor-core work at 8K; a MASK that
    is not a boolean (i, j) argument is a one-line error."""
    base = ["explain", "examples/attention.py:causal", "--axes",
            "q: b h i d, k: b h j d, v: b h j e, mask: i j", "--sizes",
            "b=1,h=16,i=8192,j=8192,d=128,e=128", "--json", "--top", "1"]
    assert main(base) == 0
    full = json.loads(capsys.readouterr().out)["candidates"][0]
    assert main(base + ["--causal", "mask"]) == 0
    causal = json.loads(capsys.readouterr().out)["candidates"][0]
    assert causal["breakdown_ms"]["tensor"] < 0.6 * full["breakdown_ms"]["tensor"]
    assert causal["predicted_ms"] < 0.7 * full["predicted_ms"]
    assert main(base + ["--causal", "k"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("wirefuse: error:") and "causal" in err and "\n" not in err


SQUARED_PY = '''
import torch

def squared(q, k, v, mask):
    s = (q @ k.transpose(-1, -2) * 0.088).masked_fill(~mask, float("-inf"))
    return torch.softmax(s, dim=-1) ** 2 @ v
'''


def test_causal_explain_takes_what_export_takes_when_shift_powers_differ(tmp_path, capsys):
    """softmax(s)² @ v streams as Σ e^(2u) v / (Σ e^u)²: its sums carry e^u twice and once, and
    the generator rescales them per component with the certificate's degrees.  `explain
    --causal mask` builds the loop nest `export --causal mask` builds (with those degrees): it
    accepts the mask as export does, costs only the key blocks the kernel runs, and its top-1
    is what the exported module launches."""
    import math
    import torch
    from wirefuse.kernels.export import load_module
    f = tmp_path / "sq.py"
    f.write_text(SQUARED_PY)
    axes = "q: b h i d, k: b h j d, v: b h j e, mask: i j"
    sz = dict(b=1, h=8, i=2048, j=2048, d=64, e=64)
    out = tmp_path / "sq_kernel.py"
    assert main(["export", f"{f}:squared", "--axes", axes, "--stream", "j", "--causal", "mask",
                 "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["explain", f"{f}:squared", "--axes", axes, "--causal", "mask", "--json",
                 "--top", "1000", "--sizes", ",".join(f"{a}={n}" for a, n in sz.items())]) == 0
    cands = json.loads(capsys.readouterr().out)["candidates"]
    top = next(c for c in cands if c["form"] != "unfused")
    bm, bn, parts = top["config"]["BLOCK_M"], top["config"]["BLOCK_N"], top["splits"]
    # the causal kernel's loop, walked: row block r, part from key lo, runs the key blocks
    # below min(lo + chunk, (r + 1)·BM); a step is a BM × BN tile through two dots
    n = sz["j"]
    chunk = math.ceil(math.ceil(n / parts) / bn) * bn
    run = sum(max(0, math.ceil((min(lo + chunk, n, (r + 1) * bm) - lo) / bn))
              for r in range(sz["i"] // bm) for lo in range(0, n, chunk))
    assert top["detail"]["flops_tensor"] == sz["b"] * sz["h"] * run * bm * bn * 2 * (64 + 64)
    mod = load_module(str(out), "_sq_causal_kernel")
    assert mod.PROFILE["causal"] and "mask" not in mod.PROFILE["inputs"]
    cfg = top["config"]
    assert mod.choose(dict(sz), torch.bfloat16) == dict(
        block_m=cfg["BLOCK_M"], block_n=cfg["BLOCK_N"], num_warps=cfg["num_warps"],
        num_stages=cfg["num_stages"], splits=top["splits"])


def test_the_short_list_is_marked(capsys):
    """`explain` marks the candidates `export --tune 3` / autotune() would time: the first of
    each of the first three tile shapes (BLOCK_M, BLOCK_N, splits), never the unfused form."""
    rc, out, err = explain(capsys, "--json", "--top", "1000")
    assert rc == 0, err
    cands = json.loads(out)["candidates"]
    listed = [c for c in cands if c["shortlist"]]
    assert len(listed) == 3 and all(c["form"] != "unfused" for c in listed)
    tile = lambda c: (c["config"]["BLOCK_M"], c["config"]["BLOCK_N"], c["splits"])
    assert len({tile(c) for c in listed}) == 3
    fused = [c for c in cands if c["form"] != "unfused"]
    last = fused.index(listed[-1])
    assert {tile(c) for c in fused[:last + 1]} == {tile(c) for c in listed}
    assert all(fused.index(c) == min(n for n, x in enumerate(fused) if tile(x) == tile(c))
               for c in listed)
    rc, out, err = explain(capsys, "--top", "1")
    assert rc == 0 and out.splitlines()[2].split()[0] == "1*"
    assert "* the model's short list" in out and "2 of them below the rows shown" in out
