"""`wirefuse explain` and `wirefuse.explain`: JSON shape, ordering, and one-line errors."""
import json

import pytest

import wirefuse
from wirefuse.cli import main
from wirefuse.lowering.cost import SCORE, SOFTMAX, SPHERICAL

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
    from wirefuse.lowering.cost import reference_form
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
