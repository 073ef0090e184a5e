"""`wirefuse export`: prove, generate the Triton kernel, write a self-contained torch module.

    wirefuse export FILE.py:FUNC --axes "q: b h i d, k: b h j d, v: b h j e" --stream j -o OUT.py
                    [--splits P] [--block-m BM] [--block-n BN] [--num-warps W] [--num-stages S]
                    [--causal MASK] [--tune K]

Exit 0: written; 1: not proven streamable (the reason is printed); 2: bad input or a stream form
the generator does not support (one line saying what).
"""
from __future__ import annotations

import sys

from wirefuse.rewrite.errors import UserError


def register(sub) -> None:
    p = sub.add_parser(
        "export", help="generate a fused Triton kernel as a torch custom op module",
        description="Prove FUNC streamable along the stream axis, lower the stream form to a "
        "Triton kernel and write one Python module (needs only torch and triton) defining "
        "FUNC, registered as the custom op wirefuse::FUNC.",
        epilog='example: wirefuse export examples/attention.py:spherical --axes "q: b h i d, '
        'k: b h j d, v: b h j e" --stream j -o spherical_kernel.py')
    p.add_argument("target", metavar="FILE.py:FUNC")
    p.add_argument("--axes", required=True, help="one axis list per tensor argument")
    p.add_argument("--stream", required=True, help="the axis to stream along (e.g. j)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.py")
    p.add_argument("--splits", type=int, help="split-KV parts (default: chosen from the shapes)")
    p.add_argument("--block-m", type=int, help="rows per program (power of two, >= 16)")
    p.add_argument("--block-n", type=int, help="keys per loop step (power of two, >= 16)")
    p.add_argument("--num-warps", type=int, help="warps per program (power of two)")
    p.add_argument("--num-stages", type=int)
    p.add_argument("--causal", metavar="MASK", help="the boolean (i, j) mask argument MASK is "
                   "lower-triangular (j <= i): compute it from indices and skip masked blocks")
    p.add_argument("--tune", type=int, default=0, metavar="K", help="at each new call shape on "
                   "a GPU, time the cost model's first K candidates and keep the fastest "
                   "(default 0: launch its first, untimed)")
    p.set_defaults(run=run)


def run(args) -> int:
    from wirefuse.kernels.export import CONFIG_FIELDS, NotProven, config_problem, export_source
    from wirefuse.loading import load_function
    if args.tune < 0:
        raise UserError(f"--tune {args.tune}: give how many candidates to time (0: none)")
    cfg = {"block_m": args.block_m, "block_n": args.block_n, "num_warps": args.num_warps,
           "num_stages": args.num_stages, "splits": args.splits}
    problem = config_problem(cfg, CONFIG_FIELDS, flags=True)
    if problem:
        raise UserError(problem)
    fn = load_function(args.target)
    try:
        src = export_source(fn, args.axes, args.stream, causal=args.causal, config=cfg,
                            tune=args.tune)
    except NotProven as e:
        print(f"wirefuse: not exported: {e}", file=sys.stderr)
        return 1
    try:
        with open(args.output, "w") as f:
            f.write(src)
    except OSError as e:
        raise UserError(f"cannot write {args.output}: {e.strerror or e}") from None
    print(f"wrote {args.output}: {fn.__name__} as wirefuse::{fn.__name__}")
    return 0
