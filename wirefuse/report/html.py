"""Proof reports: one self-contained HTML page per variant (inline SVG and CSS, nothing fetched).

The page holds the function's source, its string diagram (and the stream form's panel), the
verdict and its reason, the stream form in math notation, the proof steps (rule, equation,
before/after), the checker's verdict and, given benchmark rows, the kernel's measured speed.

Math notation (HTML, axis names in their diagram colours), e.g. for spherical attention's tail:

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> math_text(parse("(div $o[i,e] (sqrt $z[i]))"))
'o_{i,e} / √(z_{i})'
>>> math_text(parse("(sum@j (mul s[i,j] (add v[j,e] 1.0)))"))
'Σ_{j} s_{i,j} · (v_{j,e} + 1)'
>>> math_html(parse("s[i,j]"))
's<sub><span class="ax" style="color:#1f6fd1">i</span>,<span class="ax" style="color:#d62728">j</span></sub>'
"""
from __future__ import annotations

import html
import inspect
import json
import math
import os
import textwrap

from wirefuse.rewrite.errors import UserError
from wirefuse.rewrite.ir.ops import MONOIDS
from wirefuse.rewrite.ir.sexpr import parse, to_sexpr
from wirefuse.draw.svg import axis_colour
from wirefuse.rewrite.ir.term import (Broadcast, Const, Elem, Input, Layout, Opaque, Pos, Reduce,
                                      Rename, Size, State, Term)

# ---------------------------------------------------------------------------------------------
# math notation

_INFIX = {"add": (" + ", 1), "sub": (" − ", 1), "mul": (" · ", 3), "div": (" / ", 3),
          "lt": (" < ", 0), "le": (" ≤ ", 0), "gt": (" > ", 0), "ge": (" ≥ ", 0),
          "eq": (" = ", 0), "ne": (" ≠ ", 0), "and": (" ∧ ", 0), "or": (" ∨ ", 0)}
_ATOM = 9


class _Fmt:
    """Formats terms as HTML (`html=True`) or as plain text with `_{}`/`^{}` (for doctests)."""

    def __init__(self, html_out: bool, names: dict | None = None):
        self.h = html_out
        self.names = names or {}  # shared subterms printed by name ("where A = ...")

    def esc(self, s):
        return html.escape(s) if self.h else s

    def ax(self, a):
        return f'<span class="ax" style="color:{axis_colour(a)}">{html.escape(a)}</span>' \
            if self.h else a

    def sub(self, s):
        return f"<sub>{s}</sub>" if self.h else "_{" + s + "}"

    def sup(self, s):
        return f"<sup>{s}</sup>" if self.h else "^{" + s + "}"

    def idx(self, axes):
        return self.sub(",".join(self.ax(a) for a in axes)) if axes else ""

    def fmt(self, t: Term, top: bool = False) -> tuple[str, int]:
        """(text, precedence); higher binds tighter.  `top`: print t itself, not its name."""
        if not top and t in self.names:
            n = self.names[t]
            return (f'<b class="let">{n}</b>' if self.h else n), _ATOM
        if isinstance(t, Input):
            return self.esc(t.name) + self.idx(t.axes), _ATOM
        if isinstance(t, State):
            name = f'<b class="state">{html.escape(t.name)}</b>' if self.h else t.name
            return name + self.idx(t.axes), _ATOM
        if isinstance(t, Const):
            if t.dtype == "bool":
                return ("true" if t.value else "false"), _ATOM
            v = t.value
            s = "∞" if v == math.inf else "−∞" if v == -math.inf else (
                str(int(v)) if v == int(v) and abs(v) < 1e15 else f"{v:.6g}")
            return s, (_ATOM if v >= 0 else 2)
        if isinstance(t, Size):
            return "|" + self.ax(t.axis) + "|", _ATOM
        if isinstance(t, Pos):
            return "#" + self.ax(t.axis), _ATOM
        if isinstance(t, Elem):
            return self.elem(t)
        if isinstance(t, Reduce):
            body, p = self.fmt(t.body)
            if p < 3:
                body = f"({body})"
            sym = MONOIDS[t.monoid].symbol
            return f"{sym}{self.sub(self.ax(t.axis))} {body}", 2
        if isinstance(t, (Broadcast, Layout)):  # identity on the values, seen by name
            return self.fmt(t.body)
        if isinstance(t, Rename):
            body, p = self.fmt(t.body)
            if p < _ATOM:
                body = f"({body})"
            return f"{body}[{self.ax(t.old)}→{self.ax(t.new)}]", _ATOM
        if isinstance(t, Opaque):
            args = ", ".join(self.fmt(a)[0] for a in t.args)
            ps = (";" + ",".join(f"{p:g}" for p in t.params)) if t.params else ""
            return f"{t.op}{self.sub(self.ax(t.axis))}({args}{ps})", _ATOM
        return self.esc(str(t)), _ATOM

    def elem(self, t: Elem) -> tuple[str, int]:
        op, args = t.op, t.args
        if op in _INFIX:
            sep, p = _INFIX[op]
            parts = []
            for k, a in enumerate(args):
                s, q = self.fmt(a)
                # left-associative: the right operand of − and / needs brackets at equal strength
                if q < p or (q == p and k > 0 and op in ("sub", "div")) or (q == 2 and p == 3 and k < len(args) - 1):
                    s = f"({s})"
                parts.append(s)
            return self.esc(sep).join(parts), p
        if op == "neg":
            s, q = self.fmt(args[0])
            return "−" + (s if q >= 3 else f"({s})"), 2
        if op in ("square", "pow"):
            s, q = self.fmt(args[0])
            if q < _ATOM:
                s = f"({s})"
            e = "2" if op == "square" else self.fmt(args[1])[0]
            return s + self.sup(e), 8
        if op == "sqrt":
            return "√(" + self.fmt(args[0])[0] + ")", _ATOM
        if op == "abs":
            return "|" + self.fmt(args[0])[0] + "|", _ATOM
        if op == "where":
            c, a, b = (self.fmt(x)[0] for x in args)
            return f"({a} if {c} else {b})", _ATOM
        inner = ", ".join(self.fmt(a)[0] for a in args)
        return f"{op}({inner})", _ATOM


def math_html(t: Term, names: dict | None = None) -> str:
    return _Fmt(True, names).fmt(t)[0]


def math_text(t: Term, names: dict | None = None) -> str:
    """Plain-text math notation (subscripts as _{..}).

    >>> math_text(parse("(div (exp s[i,j]) (sum@j (exp s[i,j])))"))
    'exp(s_{i,j}) / (Σ_{j} exp(s_{i,j}))'
    """
    return _Fmt(False, names).fmt(t)[0]


def shared_subterms(roots, min_size: int = 5) -> dict:
    """Names (A, B, ...) for subterms written out more than once across `roots`.

    Greedy, smallest first: a subterm gets a name when, with the already named ones printed by
    name (and each defined once), it would still be written at least twice and would take at
    least `min_size` nodes to write.

    >>> t = parse("(div (exp (mul 2.0 (sum@d (mul q[i,d] k[j,d])))) "
    ...           "(sum@j (exp (mul 2.0 (sum@d (mul q[i,d] k[j,d]))))))")
    >>> names = shared_subterms([t])
    >>> math_text(t, names), math_text(next(iter(names)), names)
    ('exp(A) / (Σ_{j} exp(A))', 'A')
    >>> math_text(next(iter(names)), {})
    '2 · (Σ_{d} q_{i,d} · k_{j,d})'
    """
    names: dict = {}

    def occurrences() -> dict:
        """How often each subterm is written: roots in full, named ones by name plus their
        definition once."""
        count: dict = {}
        stack = [(r, False) for r in roots] + [(t, True) for t in names]
        while stack:
            t, is_definition = stack.pop()
            if not is_definition:
                count[t] = count.get(t, 0) + 1
                if t in names:
                    continue
            stack.extend((c, False) for c in t.children)
        return count

    def printed_size(t, memo) -> int:
        """Nodes written for t when named subterms inside it are written as their names."""
        if t not in memo:
            memo[t] = 1 + sum(1 if c in names else printed_size(c, memo) for c in t.children)
        return memo[t]

    while len(names) < 26:
        count, memo = occurrences(), {}
        cands = [t for t, c in count.items() if c >= 2 and t.children and t not in names
                 and printed_size(t, memo) >= min_size]
        if not cands:
            break
        # the smallest first: once the score is named, what contains it often gets short
        # enough to be written out, which reads better than a chain of names
        best = min(cands, key=lambda t: printed_size(t, memo))
        names[best] = chr(ord("A") + len(names))
    return names


def where_html(names: dict) -> str:
    """The definitions of the named subterms, one per line."""
    if not names:
        return ""
    f = _Fmt(True, names)
    rows = "".join(f"<div>where <b class='let'>{n}</b> = {f.fmt(t, top=True)[0]}</div>"
                   for t, n in sorted(names.items(), key=lambda kv: kv[1]))
    return f"<div class='where m'>{rows}</div>"


def stream_form_html(sf) -> str:
    """The state components (fold, identity, combine), the per-chunk update, and the tail."""
    ax = _Fmt(True).ax(sf.axis)
    names = shared_subterms([c.body for c in sf.components] + [sf.tail]
                            + ([sf.shift] if getattr(sf, "shift", None) is not None else []))
    rows = []
    for c in sf.components:
        st = sf.state_ref(c)
        m = MONOIDS[c.monoid]
        lhs = math_html(st)
        ident = {0.0: "0", 1.0: "1", -math.inf: "−∞", math.inf: "∞"}.get(c.identity,
                                                                         str(c.identity))
        comb = {"sum": f"{lhs} ← {lhs} + {m.symbol}<sub>{ax}∈C</sub> (·)",
                "prod": f"{lhs} ← {lhs} · Π<sub>{ax}∈C</sub> (·)",
                "max": f"{lhs} ← max({lhs}, max<sub>{ax}∈C</sub> (·))",
                "min": f"{lhs} ← min({lhs}, min<sub>{ax}∈C</sub> (·))"}[c.monoid]
        rows.append(f"<tr><td class='lhs'>{lhs}</td><td>= {m.symbol}<sub>{ax}</sub> "
                    f"{_paren(c.body, names)}</td><td class='note'>identity {ident}; per chunk C: {comb}"
                    "</td></tr>")
    tail = math_html(sf.tail, names)
    rows.append(f"<tr><td class='lhs'>out</td><td>= {tail}</td><td class='note'>the tail, once "
                "after the last chunk</td></tr>")
    shift = ""
    if getattr(sf, "shift", None) is not None:
        shift = (f"<p>Running-max rescaling is sound here: every sum component is "
                 f"e<sup>u</sup>·w with u = {math_html(sf.shift, names)}, and the tail is invariant "
                 f"under a common rescaling; the kernel keeps m = max<sub>{ax}</sub> u.</p>")
    return (f"<p>Streamable along {ax}: one pass over chunks of {ax} with a state of "
            f"{len(sf.components)} component(s); the combine is associative with an identity, "
            f"so the chunks may also be split across programs and merged (split-KV).</p>"
            f"<table class='sf'>{''.join(rows)}</table>{where_html(names)}{shift}")


def _paren(t: Term, names: dict | None = None) -> str:
    s, p = _Fmt(True, names).fmt(t)
    return f"({s})" if p < 3 else s


# ---------------------------------------------------------------------------------------------
# proof steps, checker, benchmark


def _as_term(x) -> Term | None:
    if isinstance(x, Term):
        return x
    if isinstance(x, str):
        try:
            return parse(x)
        except Exception:
            return None
    if isinstance(x, dict):
        try:
            from wirefuse.rewrite.ir.serialize import term_from_json
            return term_from_json(x)
        except Exception:
            return None
    return None


def _rule_info(name: str) -> tuple[str, str]:
    """(equation, side condition) of a registered rule, or empty strings."""
    try:
        from wirefuse.rules.base import REGISTRY
        import importlib
        import pkgutil
        from wirefuse import rules as _rules
        for m in pkgutil.iter_modules(_rules.__path__):  # rules register on import
            importlib.import_module(f"{_rules.__name__}.{m.name}")
        r = REGISTRY.get(name)
        if r is not None:
            return r.equation, r.side_condition
    except Exception:  # a half-written rules module must not break the report
        pass
    return "", ""


def _local_rewrite(before: Term | None, name: str, pos, bindings):
    """(redex, its rewrite) for one step: the subterm at `pos` and what the rule made of it
    (found by running the rule there with the step's bindings), or None when it cannot be
    reconstructed (unknown rule, position off the term)."""
    if before is None or not isinstance(pos, (list, tuple)):
        return None
    try:
        from wirefuse.rules.base import REGISTRY, canon
        _rule_info(name)  # imports every rules module, so the registry is full
        rule = REGISTRY.get(name)
        redex = before.at(tuple(pos))
        if rule is None:
            return None
        for new, b in rule.rewrite(redex):
            if b == (bindings or {}):
                return redex, canon(new)
    except Exception:  # display only: fall back to whole terms
        return None
    return None


def steps_html(steps, start: Term | None) -> str:
    """A table of proof steps: rule, equation, where, the rewritten subterm before and after,
    and (folded) the whole term after the step.  Subterms written more than once across the
    table get one name each (A, B, ...), defined above it."""
    if not steps:
        return "<p class='muted'>No rewrite steps: the term was already in stream normal form.</p>"
    parsed = []
    before = start
    for st in steps:
        if not isinstance(st, dict):
            st = {"rule": str(st)}
        name = str(st.get("rule") or st.get("name") or "?")
        raw_pos = st.get("position", st.get("pos", st.get("path", "")))
        after = _as_term(st.get("term", st.get("result", st.get("after"))))
        local = _local_rewrite(before, name, raw_pos, st.get("bindings"))
        parsed.append((st, name, raw_pos, before, after, local))
        before = after if after is not None else before
    shown = [x for p in parsed for x in (p[5] if p[5] is not None else (p[3], p[4]))
             if x is not None]
    names = shared_subterms(shown, min_size=8)  # only big ones: the steps stay legible
    rows = []
    for n, (st, name, raw_pos, before, after, local) in enumerate(parsed, 1):
        eq, side = st.get("equation") or "", st.get("side_condition") or ""
        if not eq:
            eq, side2 = _rule_info(name)
            side = side or side2
        pos = "root" if raw_pos in ((), [], "") else "·".join(str(p) for p in raw_pos) \
            if isinstance(raw_pos, (list, tuple)) else str(raw_pos)
        if local is not None:
            b, a = math_html(local[0], names), math_html(local[1], names)
        else:
            b = math_html(before, names) if before is not None else "…"
            a = math_html(after, names) if after is not None else html.escape(
                str(st.get("term", st.get("result", ""))))
        whole = (f"<details><summary class='muted'>whole term after step {n}</summary>"
                 f"{math_html(after, names)}</details>") \
            if local is not None and after is not None else ""
        bind = st.get("bindings")
        bind_s = html.escape(json.dumps(bind, default=str)) if bind else ""
        rows.append(
            f"<tr><td>{n}</td><td><code>{html.escape(name)}</code>"
            + (f"<div class='eq'>{html.escape(eq)}</div>" if eq else "")
            + (f"<div class='note'>if {html.escape(side)}</div>" if side and side != "none"
               else "")
            + f"</td><td>{html.escape(pos)}" + (f"<div class='note'>{bind_s}</div>"
                                                if bind_s else "")
            + f"</td><td class='m'>{b}</td><td class='m'>{a}{whole}</td></tr>")
    return ("<p class='muted'>Each step rewrites the subterm at <i>where</i> (child indices "
            "from the root of the AC-canonical term); the checker replays every step.</p>"
            + where_html(names)
            + "<table class='steps'><tr><th>#</th><th>rule and equation</th><th>where</th>"
            "<th>subterm before</th><th>after</th></tr>" + "".join(rows) + "</table>")


def load_bench(path: str) -> list[dict]:
    """Benchmark rows from a JSON file: a list of {variant, shape, TFLOP/s, ...} objects (or
    {"rows": [...]} / {"results": [...]}); rows without TFLOP/s are shown without a bar."""
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise UserError(f"no such benchmark file: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path} is not JSON ({e}); give a list of rows with variant, shape "
                        "and TFLOP/s") from None
    if isinstance(data, dict):  # {"rows": [...]} or bench/costmodel.py's {"results": [...]}
        data = next((data[k] for k in ("rows", "results") if isinstance(data.get(k), list)),
                    data)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise UserError(f"{path}: expected a JSON list of objects with variant, shape and "
                        "TFLOP/s")
    return data


def _tflops(row: dict):
    for k in ("TFLOP/s", "tflops", "TFLOPs", "tflop_s", "TFLOPS"):
        if k in row:
            try:
                return float(row[k])
            except (TypeError, ValueError):
                return None
    return None


def bench_html(rows: list[dict], variant: str | None) -> str:
    """Rows for this variant (all rows if none name it), as a table with inline bars."""
    mine = [r for r in rows if variant and str(r.get("variant", "")) == variant] or rows
    if not mine:
        return "<p class='muted'>The benchmark file has no rows.</p>"
    best = max([_tflops(r) or 0.0 for r in mine] + [1e-9])
    keys = ["variant", "shape"] + sorted({k for r in mine for k in r} - {"variant", "shape"}
                                         - {"TFLOP/s", "tflops", "TFLOPs", "tflop_s", "TFLOPS"})
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys) + "<th>TFLOP/s</th>"
    body = []
    for r in mine:
        tf = _tflops(r)
        cells = "".join(f"<td>{html.escape(_cell(r.get(k, '')))}</td>" for k in keys)
        bar = (f"<div class='bar'><span style='width:{100 * tf / best:.1f}%'></span>"
               f"<em>{tf:.1f}</em></div>") if tf is not None else "–"
        body.append(f"<tr>{cells}<td>{bar}</td></tr>")
    note = "" if variant and any(str(r.get("variant", "")) == variant for r in rows) else \
        f"<p class='muted'>No row names {html.escape(str(variant))}; showing every row.</p>"
    return note + f"<table class='bench'><tr>{head}</tr>{''.join(body)}</table>"


def _cell(v) -> str:
    if isinstance(v, (list, tuple)):
        return "×".join(str(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}={_cell(x)}" for k, x in v.items())
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


# ---------------------------------------------------------------------------------------------
# the page

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2330;
background:#fafbfc;line-height:1.45}
main{max-width:1200px;margin:0 auto;padding:18px 24px 40px}
h1{font-size:22px;margin:6px 0 4px}h2{font-size:16px;margin:26px 0 8px;border-bottom:1px solid
#e3e6ea;padding-bottom:4px}
.verdict{display:inline-block;padding:4px 10px;border-radius:4px;font-weight:600;margin:6px 0}
.ok{background:#e3f5e8;color:#17602c;border:1px solid #9fd8ae}
.no{background:#fdecee;color:#8a1020;border:1px solid #f0a9b3}
.unk{background:#fff5e0;color:#7a5200;border:1px solid #f0cf8a}
pre{background:#f3f4f6;border:1px solid #e3e6ea;border-radius:4px;padding:10px;overflow:auto;
font-size:13px}
.diagram{overflow:auto;background:#fff;border:1px solid #e3e6ea;border-radius:4px;padding:4px}
.diagram svg{display:block}
table{border-collapse:collapse;font-size:13.5px;margin:6px 0}
td,th{border:1px solid #e3e6ea;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#f3f4f6}
.sf td{border:none;padding:3px 10px 3px 0}.sf .lhs{text-align:right;white-space:nowrap}
.note,.muted{color:#667085;font-size:12.5px}
.eq{font-family:'DejaVu Sans Mono',Menlo,monospace;font-size:12.5px;color:#334}
.m{font-family:'DejaVu Serif',Georgia,serif;max-width:420px;overflow-wrap:anywhere}
.sf td:nth-child(2){font-family:'DejaVu Serif',Georgia,serif}
.ax{font-weight:600}
.bar{position:relative;width:260px;height:16px;background:#f0f2f5;border-radius:3px}
.bar span{position:absolute;left:0;top:0;bottom:0;background:#7aa7e0;border-radius:3px}
.bar em{position:absolute;left:6px;top:-1px;font-style:normal;font-size:12px}
code{font-family:'DejaVu Sans Mono',Menlo,monospace;font-size:12.5px}
#render-errors{color:#8a1020}
.let{color:#0b5394}.where{color:#334;font-size:13.5px;margin:2px 0 6px}
"""

# Written into the page so a headless browser can tell a clean render from a broken one.
_SCRIPT = """
<script>
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message)); });
window.addEventListener('load', function () {
  var svgs = document.querySelectorAll('svg').length;
  var el = document.getElementById('render-status');
  el.setAttribute('data-svgs', String(svgs));
  el.setAttribute('data-errors', String(window.__errors.length));
  el.textContent = window.__errors.length ? 'render errors: ' + window.__errors.join('; ')
                                          : 'rendered';
});
</script>
"""


def build_page(*, title: str, source: str | None, svg: str | None, verdict: str,
               streamable: bool | None, reason: str, stream_form=None, steps=None,
               start: Term | None = None, checker: str | None = None,
               checker_ok: bool | None = None, bench: list[dict] | None = None,
               variant: str | None = None, term: Term | None = None) -> str:
    """Assemble the report page from its parts (every part optional but the verdict)."""
    cls = "ok" if streamable else ("no" if streamable is False else "unk")
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<div class='verdict {cls}' id='verdict'>{html.escape(verdict)}</div>",
             f"<p>{html.escape(reason)}</p>" if reason else ""]
    if source:
        parts.append(f"<h2>Source</h2><pre>{html.escape(source)}</pre>")
    if term is not None:
        names = shared_subterms([term])
        parts.append(f"<h2>Traced term</h2><p class='m'>{math_html(term, names)}</p>"
                     f"{where_html(names)}"
                     f"<details><summary class='muted'>s-expression</summary>"
                     f"<pre>{html.escape(to_sexpr(term))}</pre></details>")
    if svg:
        body = svg[svg.index("<svg"):] if "<svg" in svg else svg
        parts.append(f"<h2>String diagram</h2><div class='diagram'>{body}</div>")
    if stream_form is not None:
        parts.append(f"<h2>Stream form</h2>{stream_form_html(stream_form)}")
    if steps is not None:
        parts.append(f"<h2>Proof steps</h2>{steps_html(steps, start)}")
    if checker is not None:
        c = "ok" if checker_ok else ("no" if checker_ok is False else "unk")
        parts.append(f"<h2>Checker</h2><div class='verdict {c}' id='checker'>"
                     f"{html.escape(checker)}</div>")
    if bench is not None:
        parts.append(f"<h2>Measured speed</h2>{bench_html(bench, variant)}")
    parts.append("<p class='muted' id='render-status'>loading…</p>")
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
            f"<body><main>{''.join(parts)}</main>{_SCRIPT}</body></html>\n")


def function_source(fn) -> str | None:
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None


# ---------------------------------------------------------------------------------------------
# analysis: trace, prove, check (whatever of the pipeline is there)


class Analysis:
    """What the report and the diagram need about one variant.

    `streamable` is True only when the prover (or, for a term already in normal form, the
    recogniser `theorems.stream.decompose`) established it; None means "not established"."""

    def __init__(self, name, term, stream, streamable=None, reason="", stream_form=None,
                 steps=None, checker=None, checker_ok=None, source=None, certificate=None):
        self.name, self.term, self.stream = name, term, stream
        self.streamable, self.reason, self.stream_form = streamable, reason, stream_form
        self.steps, self.checker, self.checker_ok = steps, checker, checker_ok
        self.source, self.certificate = source, certificate
        self.method = ""  # how the verdict was reached: inspection, path finder, e-graph

    @property
    def verdict(self) -> str:
        if self.stream is None:
            return "traced (no stream axis asked for)"
        if self.streamable:
            return f"streamable along {self.stream}"
        if self.streamable is False:
            return f"not streamable along {self.stream}"
        return f"not proven streamable along {self.stream}"


def trace_function(fn, axes) -> Term:
    """The traced term of `fn` (wirefuse.trace)."""
    from wirefuse.rewrite.trace.tracer import trace
    return trace(fn, axes)


def _egraph_prover():
    """wirefuse.prove, or None on a machine without egglog (the path finder searches then)."""
    try:
        from wirefuse.search.prover import prove
    except ImportError:
        return None
    return prove


def analyse_term(term: Term, stream: str | None, name: str = "term",
                 source: str | None = None, search_seconds: float = 5.0,
                 use_prover: bool = True) -> Analysis:
    """Prove a term streamable along `stream`.

    A term already in stream normal form is streamable by inspection; otherwise the e-graph
    prover (wirefuse.prove) searches when `use_prover` and egglog is installed, else the
    project's path finder looks for rule steps to a normal form (`search_seconds`).  Either
    way only a certificate the checker accepts makes the verdict "streamable"."""
    from wirefuse.search.pathfind import find_path
    from wirefuse.theorems.certificate import make_certificate, stream_form_of
    from wirefuse.theorems.stream import NotNormal, decompose
    a = Analysis(name, term, stream, source=source)
    if stream is None:
        return a
    try:
        decompose(term, stream)
        why_not = None
    except NotNormal as e:
        why_not = str(e)
    prove = _egraph_prover() if use_prover and why_not is not None else None
    if prove is not None:  # a normal form needs no search
        a.method = "e-graph prover (wirefuse.prove)"
        return _from_proof(prove(term, stream=stream), a)
    a.method = "inspection" if why_not is None else "path finder (search.pathfind)"
    steps = [] if why_not is None else find_path(term, stream, max_seconds=search_seconds)
    if steps is None:
        a.reason = (f"no rewrite path to a stream normal form was found; as written, {why_not}")
        if use_prover:
            a.reason += " (the e-graph prover needs egglog, which is not installed)"
        return a
    cert = make_certificate(term, stream, steps)
    a.certificate, a.steps = cert, cert["steps"]
    a.checker, a.checker_ok = check_certificate(cert)
    if a.checker_ok:
        a.streamable, a.stream_form = True, stream_form_of(cert)
        a.reason = (f"already in stream normal form along {stream}" if not steps else
                    f"{len(steps)} rewrite step(s) reach a stream normal form along {stream}")
    else:
        a.reason = (f"a rewrite path was found but the checker rejected its certificate "
                    f"({a.checker})")
    return a


def _from_proof(res, a: Analysis) -> Analysis:
    """Fill an Analysis from the prover's answer (.streamable, .reason, .certificate,
    .stream_form), re-running the checker on the certificate for the report's own verdict."""
    cert = getattr(res, "certificate", None)
    a.certificate = cert
    a.steps = cert.get("steps") if isinstance(cert, dict) else None
    a.reason = str(getattr(res, "reason", "") or "")
    a.checker, a.checker_ok = check_certificate(cert) if cert is not None else (None, None)
    # streamable only if the prover says so AND the checker accepts its certificate
    if getattr(res, "streamable", False) and a.checker_ok:
        a.streamable, a.stream_form = True, getattr(res, "stream_form", None)
    elif getattr(res, "streamable", False):  # the search claims it; the checker does not agree
        a.reason = f"not proven: the checker did not accept the prover's certificate ({a.checker})"
    elif getattr(res, "refuted", False):  # "not proven" unless the prover refuted the claim
        a.streamable = False
    if a.streamable and a.stream_form is None:
        from wirefuse.theorems.certificate import stream_form_of
        a.stream_form = stream_form_of(cert)
    return a


def analyse_function(fn, axes, stream: str | None, name: str | None = None,
                     search_seconds: float = 5.0, use_prover: bool = True) -> Analysis:
    """Trace `fn` (once) and, with `stream`, prove and check it as `analyse_term` does."""
    name = name or getattr(fn, "__name__", "function")
    return analyse_term(trace_function(fn, axes), stream, name, function_source(fn),
                        search_seconds, use_prover)


def check_certificate(cert) -> tuple[str, bool]:
    """Replay the certificate with the independent checker (theorems.checker)."""
    from wirefuse.theorems.checker import check_certificate as check
    out = check(cert)
    if out.ok:
        return f"accepted: {out.reason}", True
    return f"rejected: {out.reason}", False


def _canon(t: Term) -> Term:
    """Proof steps start from the AC-canonical form of the term (rules.base.canon)."""
    from wirefuse.rules.base import canon
    return canon(t)


def render_report(a: Analysis, svg: str | None, bench: list[dict] | None = None) -> str:
    reason = a.reason + (f" [search: {a.method}]" if a.method else "")
    checker = a.checker
    if checker is None and a.stream is not None:
        checker = "no certificate: nothing was claimed, so there is nothing to replay"
    return build_page(title=f"wirefuse report: {a.name}", source=a.source, svg=svg,
                      verdict=a.verdict, streamable=a.streamable, reason=reason,
                      stream_form=a.stream_form, steps=a.steps if a.stream else None,
                      start=_canon(a.term) if a.steps else a.term, checker=checker,
                      checker_ok=a.checker_ok, bench=bench, variant=a.name, term=a.term)


def report_html(a: Analysis, bench: list[dict] | None = None, levels: bool = True) -> str:
    """The full page for an analysis: diagram (with the stream-form panel) included."""
    from wirefuse.draw.diagram import draw
    svg = draw(a.term, stream=a.stream, stream_form=a.stream_form, levels=levels,
               title=a.name)
    return render_report(a, svg, bench)
