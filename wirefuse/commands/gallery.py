"""`wirefuse gallery`: render every example variant to SVG (and an HTML report), plus an index.

    wirefuse gallery -o docs/gallery/ [--examples examples/] [--reports] [--no-egraph]

Each `examples/*.py` defines `EXAMPLES = {name: {"axes": ..., "stream": ..., "expected": ...}}`
(the function is the module attribute `name`, or the entry's "fn").  One command regenerates
the whole gallery; a variant that fails to trace or prove gets a card saying why.
"""
from __future__ import annotations

import glob
import html
import os

from wirefuse.rewrite.errors import UserError


def register(sub) -> None:
    p = sub.add_parser("gallery", help="render every example to SVG + an index.html page",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", default="docs/gallery",
                   help="folder to write (default docs/gallery)")
    p.add_argument("--examples", default="examples", help="folder of example modules")
    p.add_argument("--reports", action="store_true",
                   help="also write one HTML proof report per variant (about 80 KB each)")
    p.add_argument("--no-egraph", dest="egraph", action="store_false",
                   help="prove with the path finder only (fast), not the e-graph prover")
    p.set_defaults(run=run)


def example_entries(folder: str):
    """(file, name, fn, axes, stream, expected) for every entry of every EXAMPLES dict."""
    files = sorted(f for f in glob.glob(os.path.join(folder, "*.py"))
                   if not os.path.basename(f).startswith("_"))
    if not os.path.isdir(folder):
        raise UserError(f"no examples folder {folder}; pass --examples DIR")
    if not files:
        raise UserError(f"no example modules (*.py) in {folder}")
    out = []
    for path in files:
        mod = _load_module(path)
        if not isinstance(getattr(mod, "EXAMPLES", None), dict):
            continue  # a helper module without EXAMPLES
        for name, spec in getattr(mod, "EXAMPLES").items():
            spec = spec if isinstance(spec, dict) else {}
            fn = spec.get("fn") or getattr(mod, name, None)
            expected = spec.get("streamable", spec.get("expected"))
            out.append((path, name, fn, spec.get("axes"), spec.get("stream"), expected))
    return out


def _load_module(path: str):
    import importlib.util
    import sys
    mod_name = "_wirefuse_example_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module  # inspect.getsource finds the file through it
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the example module itself is broken
        raise UserError(f"importing {path} failed: {type(e).__name__}: {e}") from None
    return module


def _slug(path: str, name: str) -> str:
    return f"{os.path.splitext(os.path.basename(path))[0]}-{name}"


def run(args) -> int:
    from wirefuse.report.html import analyse_function, report_html
    from wirefuse.draw.diagram import draw
    from wirefuse.commands.show import write_text
    entries = example_entries(args.examples)
    try:
        os.makedirs(args.output, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create {args.output}: {e.strerror}") from None
    cards, failed = [], 0
    for path, name, fn, axes, stream, expected in entries:
        slug = _slug(path, name)
        try:
            if fn is None or not callable(fn):
                raise UserError(f"{path} lists {name} in EXAMPLES but defines no such function")
            a = analyse_function(fn, axes, stream, name=name, use_prover=args.egraph)
            svg = draw(a.term, stream=a.stream, stream_form=a.stream_form, levels=True,
                       title=f"{name}  ({os.path.basename(path)})")
            write_text(os.path.join(args.output, slug + ".svg"), svg)
            if args.reports:
                write_text(os.path.join(args.output, slug + ".html"), report_html(a))
            cards.append((path, name, slug, a, expected, None))
        except Exception as e:  # one broken example must not stop the gallery
            failed += 1
            msg = str(e) if isinstance(e, UserError) else f"{type(e).__name__}: {e}"
            cards.append((path, name, slug, None, expected, msg))
    write_text(os.path.join(args.output, "index.html"), index_page(cards, args.reports))
    print(f"wrote {len(cards) - failed} diagram(s) to {args.output}"
          + (f"; {failed} example(s) failed (see index.html)" if failed else ""))
    return 1 if failed else 0


def _agrees(a, expected) -> str:
    if expected is None or a is None:
        return ""
    if isinstance(expected, bool):
        want_stream = expected
    else:
        want = str(expected).lower()
        want_stream = want in ("true", "streamable", "proven", "yes") or want.startswith("stream")
    expected = "streamable" if want_stream else "not streamable"
    got = bool(a.streamable)
    return "as expected" if want_stream == got else f"expected: {html.escape(str(expected))}"


def index_page(cards, reports: bool) -> str:
    items = []
    for path, name, slug, a, expected, err in cards:
        src = html.escape(os.path.basename(path))
        if err:
            items.append(f"<div class='card'><h3>{html.escape(name)} <small>{src}</small></h3>"
                         f"<p class='no'>failed: {html.escape(err)}</p></div>")
            continue
        cls = "ok" if a.streamable else ("no" if a.streamable is False else "unk")
        agree = _agrees(a, expected)
        link = f" · <a href='{slug}.html'>report</a>" if reports else ""
        items.append(
            f"<div class='card'><h3>{html.escape(name)} <small>{src}</small></h3>"
            f"<p><span class='v {cls}'>{html.escape(a.verdict)}</span> "
            f"<span class='muted'>{agree}</span></p>"
            f"<p class='muted'>{html.escape(a.reason)}"
            + (f" <i>(search: {html.escape(a.method)})</i>" if a.method else "") + "</p>"
            f"<a href='{slug}.svg'><img src='{slug}.svg' alt='diagram of {html.escape(name)}'>"
            f"</a><p><a href='{slug}.svg'>diagram</a>{link}</p></div>")
    css = ("body{font-family:system-ui,sans-serif;margin:0;background:#fafbfc;color:#1d2330}"
           "main{max-width:1300px;margin:0 auto;padding:16px 24px}"
           ".grid{display:grid;grid-template-columns:1fr;gap:16px}"
           ".card{background:#fff;border:1px solid #e3e6ea;border-radius:6px;padding:10px 14px}"
           ".card h3{margin:4px 0;font-size:16px}.card small{color:#667085;font-weight:400}"
           ".card img{width:100%;height:auto;border:1px solid #eef0f3}"
           ".v{padding:2px 8px;border-radius:4px;font-weight:600;font-size:13px}"
           ".ok{background:#e3f5e8;color:#17602c}.no{background:#fdecee;color:#8a1020}"
           ".unk{background:#fff5e0;color:#7a5200}.muted{color:#667085;font-size:13px}")
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>wirefuse gallery</title><style>{css}</style></head><body><main>"
            "<h1>wirefuse gallery</h1><p class='muted'>Every example variant as a string "
            "diagram (top) and, where proven streamable, its stream form with memory levels "
            "(bottom). Regenerate with <code>wirefuse gallery -o docs/gallery/</code>.</p>"
            f"<div class='grid'>{''.join(items)}</div></main></body></html>\n")
