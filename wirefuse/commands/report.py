"""`wirefuse report`: one self-contained HTML proof report for a function.

    wirefuse report FILE.py:FUNC --axes "q: b h i d, k: b h j d, v: b h j e" --stream j \\
        -o OUT.html [--bench BENCH.json]

The page: source, string diagram (with the stream form and memory levels), verdict and reason,
the stream form in math notation, the proof steps, the checker's verdict and, with --bench
(a JSON list of rows with variant, shape, TFLOP/s), the measured speed.
"""
from __future__ import annotations

from wirefuse.commands.show import add_target_args, analysis_from_args, write_text


def register(sub) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML proof report",
                       description=__doc__.split("\n\n")[0])
    add_target_args(p)
    p.add_argument("-o", "--output", required=True, help="the HTML file to write")
    p.add_argument("--bench", help="benchmark JSON: a list of {variant, shape, TFLOP/s} rows")
    p.add_argument("--no-levels", dest="levels", action="store_false",
                   help="do not colour the stream form by memory level")
    p.set_defaults(run=run)


def run(args) -> int:
    from wirefuse.report.html import load_bench, report_html
    bench = load_bench(args.bench) if args.bench else None
    a = analysis_from_args(args)
    write_text(args.output, report_html(a, bench, levels=args.levels))
    print(f"wrote {args.output}: {a.verdict}")
    return 0
