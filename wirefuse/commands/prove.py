"""`wirefuse prove`: is a PyTorch function streamable along an axis?  Prove it or say why not.

    wirefuse prove FILE.py:FUNC --axes "q: b h i d, k: b h j d, v: b h j e" --stream j
                   [--json] [-o CERT.json] [--max-seconds S --max-nodes N --max-iters K]

Exit 0: proven (the certificate passed the independent checker); 1: not proven (the reason is
printed); 2: bad input (one line, no traceback).  With --json, stdout is exactly one JSON object
{"streamable", "reason", "certificate", "stats": {"seconds", "enodes", "iterations", "limit"}}.
"""
from __future__ import annotations

import json
import math
import sys

from wirefuse.rewrite.errors import UserError


def register(sub) -> None:
    p = sub.add_parser(
        "prove", help="prove a function streamable along an axis (or say why not)",
        description="Trace a PyTorch function into a term over named axes, saturate an e-graph "
        "with the rewrite rules, extract a stream normal form, and emit a certificate that the "
        "independent checker verifies.",
        epilog='example: wirefuse prove examples/attention.py:spherical --axes "q: b h i d, '
        'k: b h j d, v: b h j e" --stream j')
    p.add_argument("target", metavar="FILE.py:FUNC", help="the function to prove")
    p.add_argument("--axes", required=True,
                   help='named axes of each argument, e.g. "q: b h i d, k: b h j d, v: b h j e"')
    p.add_argument("--stream", default="j", help="the axis to stream along (default: j)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-o", "--output", metavar="CERT.json",
                   help="write the certificate here (only when proven)")
    p.add_argument("--max-seconds", type=float, default=None, metavar="S",
                   help="saturation time limit in seconds (default 3)")
    p.add_argument("--max-nodes", type=int, default=None, metavar="N",
                   help="e-node limit (default 20000)")
    p.add_argument("--max-iters", type=int, default=None, metavar="K",
                   help="iteration limit (default 40)")
    p.set_defaults(run=run)


def _limits(args):
    from wirefuse.search.saturate import Limits
    kw = {}
    for opt, key in (("max_seconds", "max_seconds"), ("max_nodes", "max_nodes"),
                     ("max_iters", "max_iters")):
        v = getattr(args, opt)
        if v is None:
            continue
        if (isinstance(v, float) and not math.isfinite(v)) or v < 0:
            raise UserError(f"--{opt.replace('_', '-')} must be a non-negative number, got {v}")
        kw[key] = v
    return Limits(**kw)


def run(args) -> int:
    from wirefuse.loading import load_function
    from wirefuse.search.prover import prove
    limits = _limits(args)
    fn = load_function(args.target)
    proof = prove(fn, args.axes, args.stream, limits=limits)
    if args.output and proof.certificate is not None:
        try:
            with open(args.output, "w") as f:
                json.dump(proof.certificate, f, indent=1)
        except OSError as e:
            raise UserError(f"cannot write {args.output}: {e.strerror or e}") from None
    if args.json:
        sys.stdout.write(json.dumps(proof.to_json()) + "\n")
    else:
        print(human_summary(args.target, proof, args.output))
    return 0 if proof.streamable else 1


def human_summary(target: str, proof, output: str | None = None) -> str:
    """What a researcher reads: the stream form in math notation, the rules used, the stats."""
    from wirefuse.theorems.certificate import certificate_summary
    s = proof.stats
    tail = (f"e-graph: {s.get('enodes')} e-nodes, {s.get('iterations')} iterations "
            f"({s.get('limit')}); {s.get('seconds', 0):.2f} s in all")
    if not proof.streamable:
        return f"{target}: NOT PROVEN\n  {proof.reason}\n  {tail}"
    lines = [f"{target}: {certificate_summary(proof.certificate)}"]
    rules = _rules_used(proof.certificate)
    if rules:
        lines.append("  rules      " + "\n             ".join(rules))
    lines.append(f"  checked    {proof.reason.split('; ', 1)[-1]} (independent checker)")
    lines.append(f"  {tail}")
    if output:
        lines.append(f"  certificate written to {output} (verify: wirefuse check {output})")
    return "\n".join(lines)


def _rules_used(cert: dict) -> list[str]:
    from wirefuse.rules import ALL_RULES
    seen: list[str] = []
    for st in cert.get("steps") or []:
        if st["rule"] not in seen:
            seen.append(st["rule"])
    out = []
    for name in seen:
        r = ALL_RULES.get(name)
        out.append(f"{name}: {r.equation}" if r else name)
    return out
