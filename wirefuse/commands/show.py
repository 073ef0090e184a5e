"""`wirefuse show`: the traced term as an SVG string diagram (and its stream form, if proven).

    wirefuse show FILE.py:FUNC --axes "q: b h i d, k: b h j d, v: b h j e" [--stream j] \\
        [--levels] -o OUT.svg
    wirefuse show --term "(div (sum@j ...) ...)" [--stream j] -o OUT.svg
"""
from __future__ import annotations

from wirefuse.rewrite.errors import UserError


def register(sub) -> None:
    p = sub.add_parser("show", help="draw a function's term as an SVG string diagram",
                       description=__doc__.split("\n\n")[0])
    add_target_args(p)
    p.add_argument("--levels", action="store_true",
                   help="colour the stream form's boxes by memory level (HBM / SMEM / registers)")
    p.add_argument("-o", "--output", required=True, help="the SVG file to write")
    p.set_defaults(run=run)


def add_target_args(p) -> None:
    p.add_argument("target", nargs="?", help="FILE.py:FUNC")
    p.add_argument("--axes", help='axis spec, e.g. "q: b h i d, k: b h j d, v: b h j e"')
    p.add_argument("--stream", help="the axis to stream along; highlighted, and if the term is "
                   "proven streamable along it, its stream form is drawn too")
    p.add_argument("--term", help="draw this s-expression instead of tracing a function")
    p.add_argument("--no-egraph", dest="egraph", action="store_false",
                   help="search with the path finder only (seconds), not the e-graph prover; "
                   "a verdict still needs the checker's acceptance")


def analysis_from_args(args):
    """Trace (or parse) and, with --stream, prove: the Analysis both show and report draw."""
    from wirefuse.report.html import analyse_function, analyse_term
    if args.stream and not args.stream.isidentifier():
        raise UserError(f"--stream {args.stream!r} is not an axis name")
    if args.term:
        if args.target:
            raise UserError("give either FILE.py:FUNC or --term, not both")
        from wirefuse.rewrite.ir.sexpr import parse
        from wirefuse.rewrite.ir.term import TermError
        try:
            term = parse(args.term)
        except TermError as e:
            raise UserError(f"--term does not parse: {e}") from None
        a = analyse_term(term, args.stream, use_prover=args.egraph)
    elif args.target:
        from wirefuse.loading import load_function
        fn = load_function(args.target)
        if not args.axes:
            raise UserError('--axes is required with FILE.py:FUNC, e.g. --axes '
                            '"q: b h i d, k: b h j d, v: b h j e"')
        a = analyse_function(fn, args.axes, args.stream, name=args.target.rpartition(":")[2],
                             use_prover=args.egraph)
    else:
        raise UserError("give FILE.py:FUNC (with --axes) or --term SEXPR")
    return a


def write_text(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror}") from None


def run(args) -> int:
    from wirefuse.draw.diagram import draw
    a = analysis_from_args(args)
    svg = draw(a.term, stream=a.stream, stream_form=a.stream_form, levels=args.levels,
               title=a.name)
    write_text(args.output, svg)
    print(f"wrote {args.output}: {a.verdict}" + ("" if a.stream_form is not None or not a.stream
                                                   else f" ({a.reason})"))
    return 0
