"""Survey of tests/corpus/published.py: trace → prove → check → export → kernel vs torch.

    .venv/bin/python tests/corpus/survey.py [--max-seconds S] [--markdown]

One line per variant: the expected verdict, how far it got, and the one-line message of the
first failure, classed by the layer that stopped it (tracer / prover / lowering).  Every
exception is caught and reported as its message; no traceback.  Kernels run under
TRITON_INTERPRET=1 in float32 and are compared with the function run by PyTorch in float64.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import pathlib
import sys
import tempfile

os.environ.setdefault("TRITON_INTERPRET", "1")

import torch  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
# sizes per axis name; hh = 2h (differential), c = 2d (merged heads), h = g·r (GQA)
SIZES = dict(b=2, h=2, hh=4, g=1, i=5, j=7, s=7, d=4, e=3, m=3, r=3, c=8, n=2, l=5)


def load_corpus():
    spec = importlib.util.spec_from_file_location("_published_corpus", HERE / "published.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_inputs(fn, axes, seed=0, dtype=torch.float64):
    """Random arguments by axis spec: bool for an argument named mask (each row keeps key 0)."""
    from wirefuse.loading import axes_for_function
    amap = axes_for_function(fn, axes)
    g = torch.Generator().manual_seed(seed)
    args = []
    for name, ax in amap.items():
        sizes = dict(SIZES)
        if name in ("q", "k", "v") and ax[0] == "n":  # fast-transformers layout n l h d
            sizes.update(h=2)
        shape = [sizes[a] for a in ax]
        if name == "mask" or name.endswith("_mask"):
            t = torch.rand(*shape, generator=g) > 0.3
            t[..., 0] = True
            args.append(t)
        else:
            args.append(torch.randn(*shape, generator=g, dtype=dtype))
    return list(amap), args


def _line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]


def survey_one(mod, name, entry, max_seconds=2.0, do_export=True):
    """A dict: traced, proven, checked, exported, equal (None: not reached), stage, message."""
    import wirefuse
    from wirefuse.search.saturate import Limits
    fn = getattr(mod, name)
    r = dict(name=name, expected=entry["expected"], traced=False, proven=False, checked=None,
             exported=None, equal=None, stage="", message="")
    try:
        term = wirefuse.trace(fn, entry["axes"])
        r["traced"] = True
    except BaseException as e:  # noqa: B036  (report, never raise)
        r.update(stage="tracer", message=_line(e))
        return r
    try:
        proof = wirefuse.prove(term, stream=entry["stream"],
                               limits=Limits(max_seconds=max_seconds), path_seconds=10.0)
    except BaseException as e:  # noqa: B036
        r.update(stage="prover", message=_line(e))
        return r
    r["proven"] = bool(proof.streamable)
    if not proof.streamable:
        r.update(stage="prover", message=proof.reason.splitlines()[0][:300])
        return r
    r["checked"] = bool(wirefuse.check(proof.certificate).ok)
    if not r["checked"] or not do_export:
        return r
    try:
        out = tempfile.mkdtemp(prefix="wf_corpus_")
        kernel = wirefuse.export(fn, axes=entry["axes"], stream=entry["stream"],
                                 config=dict(block_m=16, block_n=16),
                                 out=os.path.join(out, f"{name}.py"))
        r["exported"] = True
        names, args = make_inputs(fn, entry["axes"])
        ref = fn(*args)
        got = kernel(*[a.float() if a.is_floating_point() else a for a in args]).double()
        r["equal"] = bool(got.shape == ref.shape and torch.allclose(got, ref, rtol=1e-4,
                                                                     atol=1e-5))
        if not r["equal"]:
            r.update(stage="lowering", message=f"kernel differs from torch: max |Δ| = "
                     f"{(got - ref).abs().max().item():.3g}" if got.shape == ref.shape else
                     f"kernel shape {tuple(got.shape)} ≠ torch {tuple(ref.shape)}")
    except BaseException as e:  # noqa: B036
        r["exported"] = r["exported"] or False
        r.update(stage="lowering", message=_line(e))
    return r


def _mark(x):
    return {True: "yes", False: "no", None: "–"}[x]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-seconds", type=float, default=2.0, help="saturation time limit")
    ap.add_argument("--markdown", action="store_true", help="print SURVEY.md's table")
    ap.add_argument("--no-export", action="store_true", help="stop after the check")
    a = ap.parse_args(argv)
    mod = load_corpus()
    rows = []
    for name, entry in mod.EXAMPLES.items():
        r = survey_one(mod, name, entry, a.max_seconds, not a.no_export)
        rows.append(r)
        if not a.markdown:
            print(f"{name:24} expected {r['expected']:15} traced {_mark(r['traced'])} proven "
                  f"{_mark(r['proven'])} checked {_mark(r['checked'])} exported "
                  f"{_mark(r['exported'])} equal {_mark(r['equal'])}  "
                  f"{r['stage']}{': ' if r['stage'] else ''}{r['message']}", flush=True)
    if a.markdown:
        print(f"# Survey of tests/corpus/published.py ({datetime.date.today().isoformat()})\n")
        print("Generated by `.venv/bin/python tests/corpus/survey.py --markdown` "
              f"(saturation limit {a.max_seconds:g} s; kernels under TRITON_INTERPRET=1, "
              "float32 against torch in float64).  Grouped by the layer that stopped each "
              "variant; a not-streamable variant stopped by the prover is the right answer.\n")
        order = {"tracer": 0, "prover": 1, "lowering": 2, "": 3}
        for stage in ("tracer", "prover", "lowering", ""):
            group = [r for r in rows if r["stage"] == stage]
            if not group:
                continue
            print(f"## {stage or 'passed every stage'} ({len(group)})\n")
            print("| variant | expected | traced | proven | checked | exported | equal | "
                  "first failure |")
            print("|---|---|---|---|---|---|---|---|")
            for r in sorted(group, key=lambda r: (order[r["stage"]], r["name"])):
                msg = r["message"].replace("|", "\\|")
                print(f"| {r['name']} | {r['expected']} | {_mark(r['traced'])} | "
                      f"{_mark(r['proven'])} | {_mark(r['checked'])} | {_mark(r['exported'])} | "
                      f"{_mark(r['equal'])} | {msg} |")
            print()
    wrong = [r["name"] for r in rows if r["proven"] and r["expected"] == "not streamable"]
    if wrong:
        print(f"FALSE PROOF: {', '.join(wrong)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
