"""bench/costmodel.py's report scores what it says: per shape, the model's top-1 against the best
measured point, and, where the plan timed the model's short list of three, the fastest of those
(what `autotune` / `export --tune 3` launches).  Synthetic plan and timings, no GPU."""
import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _costmodel():
    spec = importlib.util.spec_from_file_location("_bench_costmodel", ROOT / "bench" /
                                                  "costmodel.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _point(n, shape, bn, pred, listed):
    cfg = {"BLOCK_M": 64, "BLOCK_N": bn, "num_warps": 4, "num_stages": 3}
    return {"id": n, "variant": "softmax", "shape": shape, "kernel": "generated",
            "set": "held-out", "sizes": dict(b=1, h=8, i=4096, j=4096, d=128, e=128),
            "form": "fused", "splits": 1, "config": cfg, "roles": ["x"], "predicted_ms": pred,
            "bound": "chain", "breakdown_ms": {}, "model_top1": listed == 0,
            "model_shortlist": listed}


FACTS = {"gpu": "test GPU", "sms": 132, "torch": "t", "triton": "t", "cuda": "c",
         "date_utc": "2026-11-23 00:00", "hbm_copy_bytes_per_s": 3e12, "bf16_matmul_flops": 7e14,
         "exp_per_s": 2e12, "launch_s": 4e-6}


def _report(tmp_path, plan, ms):
    """bench/costmodel.py's report of `plan` with point id -> measured ms (an id left out did
    not run): (its summary dict, the markdown it wrote)."""
    results = [{**{k: p[k] for k in ("id", "kernel", "variant", "shape", "form", "splits",
                                      "config")}, "measured_ms": ms[p["id"]], "rel_err": 1e-3}
               for p in plan if p["id"] in ms]
    md = tmp_path / "r.md"
    out = _costmodel().report(plan, {"facts": FACTS, "timing": "graph", "results": results},
                              str(md), str(tmp_path / "r.svg"))
    return out, md.read_text()


def test_report_scores_top1_and_the_short_list(tmp_path):
    # shape a: the top-1 (BLOCK_N 16) is 30 % slow, the short list's third is the best
    # shape b: the top-1 is the best; shape c: the best (BLOCK_N 256) is not on the short list
    plan = [_point(0, "a", 16, 1.0, 0), _point(1, "a", 32, 1.1, 1), _point(2, "a", 64, 1.2, 2),
            _point(3, "a", 128, 1.3, None),
            _point(4, "b", 16, 1.0, 0), _point(5, "b", 32, 1.1, 1), _point(6, "b", 64, 1.2, 2),
            _point(7, "c", 16, 1.0, 0), _point(8, "c", 32, 1.1, 1), _point(9, "c", 64, 1.2, 2),
            _point(10, "c", 256, 1.3, None)]
    ms = {0: 1.3, 1: 1.25, 2: 1.0, 3: 1.05, 4: 1.0, 5: 1.2, 6: 1.3,
          7: 1.5, 8: 1.5, 9: 1.5, 10: 1.0}
    out, text = _report(tmp_path, plan, ms)
    top1 = {shape: ok for _, shape, ok in out["top1"]}
    listed = {shape: ok for _, shape, ok in out["shortlist_of_3"]}
    assert top1 == {"a": False, "b": True, "c": False}
    assert listed == {"a": True, "b": True, "c": False}
    assert "within 10% of the best measured: **1 of 3**" in text
    assert "is within 10% of the best measured: **2 of 3**" in text


def test_a_short_list_point_that_did_not_run_is_skipped_and_counted(tmp_path):
    plan = [_point(0, "a", 16, 1.0, 0), _point(1, "a", 32, 1.1, 1), _point(2, "a", 64, 1.2, 2),
            _point(3, "a", 128, 1.3, None)]
    ms = {0: 1.3, 1: 1.0, 3: 1.05}   # point 2 did not run (e.g. out of resources)
    out, text = _report(tmp_path, plan, ms)
    assert [ok for _, _, ok in out["shortlist_of_3"]] == [True]
    assert "**1 of 1** (1 short-list point(s) not measured" in text
