"""`wirefuse explain`: rank the ways to run a function (unfused, fused, split-KV × tile configs)
by the napkin cost model (lowering/cost/model.py), with the binding resource and a per-resource time.

    wirefuse explain FILE.py:FUNC --axes "q: b h i d, k: b h j d, v: b h j e" --stream j \\
        --sizes b=1,h=16,i=1,j=65536,d=128,e=128 --dtype bf16 --device h100 [--json] [--top K]
        [--causal MASK]
    wirefuse explain --term "(div (sum@j ...) ...)" --stream j --sizes ...   # a normal form
"""
from __future__ import annotations

import json
import sys

from wirefuse.rewrite.errors import UserError
from wirefuse.lowering.cost.ranking import shortlist

TUNED = 3  # the short list marked in the table: autotune()'s default
BREAKDOWN = ("tensor", "fp32", "sfu", "hbm", "l2", "latency", "chain", "combine", "launch")


def register(sub) -> None:
    p = sub.add_parser("explain", help="rank fused/split/unfused kernels by the cost model",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("target", nargs="?", help="FILE.py:FUNC (needs the prover), or omit with --term")
    p.add_argument("--axes", help='axis spec, e.g. "q: b h i d, k: b h j d, v: b h j e"')
    p.add_argument("--stream", default="j", help="the axis to stream along (default j)")
    p.add_argument("--term", help="an s-expression already in stream normal form along --stream")
    p.add_argument("--shift", help="s-expression of the running-max shift u (softmax: the score)")
    p.add_argument("--sizes", required=True, help="axis=N,... for every axis of the term")
    p.add_argument("--dtype", default="bf16", help="bf16 | fp16 | fp8 | tf32 | fp32")
    p.add_argument("--device", default="h100", help="h100 | h200 | a100")
    p.add_argument("--causal", metavar="MASK", help="the boolean (i, j) mask argument MASK is "
                   "j <= i: count only the key blocks the kernel runs (as export --causal)")
    p.add_argument("--top", type=int, default=10, help="how many candidates to show (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def run(args) -> int:
    from wirefuse import explain as explain_api
    from wirefuse.lowering.cost.model import parse_sizes
    if args.top < 1:
        raise UserError(f"--top must be at least 1, got {args.top}")
    sizes = parse_sizes(args.sizes)
    if args.term:
        source = args.term
    elif args.target:
        from wirefuse.loading import load_function
        source = load_function(args.target)
    else:
        raise UserError("give FILE.py:FUNC or --term SEXPR")
    ranked = explain_api(source, axes=args.axes, stream=args.stream, sizes=sizes,
                         dtype=args.dtype, device=args.device, shift=args.shift,
                         causal=args.causal)
    shown = ranked[:args.top]
    if getattr(ranked, "note", ""):
        print(f"wirefuse: note: {ranked.note}", file=sys.stderr)
    listed = {id(c) for c in shortlist(ranked, TUNED)}
    if args.json:
        print(json.dumps({"candidates": [dict(c.to_json(), shortlist=id(c) in listed)
                                         for c in shown]}, indent=1))
        return 0
    print(format_table(shown, total=len(ranked), listed=listed))
    return 0


def format_table(cands, total: int | None = None, listed=frozenset()) -> str:
    """The ranking as a table; `listed`: ids of the candidates on the short list (marked *)."""
    head = (f"{'#':>3}  {'form':<8}{'p':>3} {'BM':>4}{'BN':>4}{'w':>3}{'st':>3} "
            f"{'pred ms':>9}  {'bound':<8}" + "".join(f"{r:>9}" for r in BREAKDOWN))
    lines = [head, "-" * len(head)]
    for n, c in enumerate(cands, 1):
        cfg = c.config
        cols = [cfg.get(k, "") for k in ("BLOCK_M", "BLOCK_N", "num_warps", "num_stages")]
        mark = "*" if id(c) in listed else " "
        lines.append(f"{n:>3}{mark} {c.form:<8}{c.splits:>3} {cols[0]!s:>4}{cols[1]!s:>4}"
                     f"{cols[2]!s:>3}{cols[3]!s:>3} {c.predicted_ms:>9.4f}  {c.bound:<8}"
                     + "".join(f"{c.breakdown_s[r] * 1e3:>9.4f}" if r in c.breakdown_s
                               else f"{'-':>9}" for r in BREAKDOWN))
    if total is not None and total > len(cands):
        lines.append(f"({total - len(cands)} more; --top N shows more)")
    lines.append("times in ms; pred = the binding resource's time + combine + launches")
    if listed:
        hidden = len(listed - {id(c) for c in cands})
        lines.append(f"* the model's short list (its first {TUNED} tile shapes): what `export "
                     f"--tune {TUNED}` and a module's autotune() time" +
                     (f"; {hidden} of them below the rows shown (--top)" if hidden else ""))
    return "\n".join(lines)
