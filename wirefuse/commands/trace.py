"""`wirefuse trace`: a PyTorch function as a term over named axes.

    wirefuse trace FILE.py:FUNC --axes "q: b h i d, k: b h j d, v: b h j e" [--json]

Prints the term as an s-expression (the syntax of wirefuse.rewrite.ir.sexpr), or with --json an
object {"function", "axes": {argument: [axis, ...]}, "term": <term_to_json>}.
"""
from __future__ import annotations

import json

from wirefuse.rewrite.errors import UserError


def register(sub) -> None:
    p = sub.add_parser(
        "trace", help="trace a PyTorch function into a term over named axes",
        description="Trace a plain PyTorch function into a term over named axes and print it. "
        "Each tensor argument's dimensions are named by --axes (einops style, one entry per "
        "argument); dimensions with the same name are the same axis.",
        epilog='example: wirefuse trace examples/attention.py:spherical '
        '--axes "q: b h i d, k: b h j d, v: b h j e".  Supported: ' + _supported())
    p.add_argument("target", metavar="FILE.py:FUNC", help="the function to trace")
    p.add_argument("--axes", required=True, metavar="SPEC",
                   help='axis names of each argument, e.g. "q: b h i d, k: b h j d, v: b h j e"')
    p.add_argument("--json", action="store_true",
                   help="print JSON (the input axes and the term's node table) instead of an "
                   "s-expression")
    p.set_defaults(run=run)


def _supported() -> str:
    from wirefuse.rewrite.trace.ops import SUPPORTED_SUMMARY
    return SUPPORTED_SUMMARY + "."


def run(args) -> int:
    from wirefuse.loading import axes_for_function, load_function
    from wirefuse.rewrite.ir.serialize import term_to_json
    from wirefuse.rewrite.ir.sexpr import to_sexpr
    from wirefuse.rewrite.trace.tracer import trace
    fn = load_function(args.target)
    term = trace(fn, args.axes)
    if args.json:
        axes = axes_for_function(fn, args.axes)
        print(json.dumps({"function": args.target,
                          "axes": {k: list(v) for k, v in axes.items()},
                          "term": term_to_json(term)}))
    else:
        print(to_sexpr(term))
    return 0


__all__ = ["register", "run", "UserError"]
