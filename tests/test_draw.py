"""String diagrams: valid SVG, no overlapping boxes or labels, stable colours, golden files.

Regenerate the golden files with `WIREFUSE_REGEN_GOLDEN=1 pytest tests/test_draw.py`.
"""
from __future__ import annotations

import glob
import itertools
import os
import xml.etree.ElementTree as ET

import pytest

from wirefuse.draw.diagram import draw
from wirefuse.rewrite.ir.sexpr import parse
from wirefuse.theorems.stream import decompose

NS = "{http://www.w3.org/2000/svg}"
GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
ADVANCE = 0.602  # DejaVu Sans Mono's advance width, in em: the diagram's font

S = "(mul 0.125 (sum@d (mul q[b,h,i,d] k[b,h,j,d])))"
TERMS = {
    "spherical": f"(div (sum@j (mul {S} v[b,h,j,e])) (sqrt (add 1e-06 (sum@j (square {S})))))",
    "softmax": f"(div (sum@j (mul (exp {S}) v[b,h,j,e])) (sum@j (exp {S})))",
    "softmax_unfused": f"(sum@j (mul (div (exp {S}) (sum@j (exp {S}))) v[b,h,j,e]))",
    "sigmoid_len": "(sum@j (mul (div (sigmoid s[i,j]) |j|) v[j,e]))",
    "maxabs": "(div (sum@j (mul s[i,j] v[j,e])) (max@j (abs s[i,j])))",
    "median": "(sum@j (mul (sub s[i,j] (median@j s[i,j])) v[j,e]))",
    "sort": "(sum@j (mul (sort@j s[i,j]) v[j,e]))",
    "rename_bcast": "(sum@j (mul (rename@i:j x[i]) (bcast@j y[i])))",
    "where_mask": "(div (sum@j (mul (where m[i,j]:bool (exp s[i,j]) 0.0) v[j,e])) "
                  "(sum@j (where m[i,j]:bool (exp s[i,j]) 0.0)))",
    "square_self": "(sum@j (mul x[i,j] x[i,j] x[i,j]))",
    "many_axes": "(sum@j (mul a[b,h,i,j,n] c[b,h,j,e,k]))",
    "wide": "(add " + " ".join(f"(exp x{k}[i,j])" for k in range(9)) + ")",
    "deep": "(exp (log (sqrt (abs (tanh (sigmoid (relu (neg (square x[i])))))))))",
}


def _parse_svg(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _boxes(root):
    return [(float(r.get("x")), float(r.get("y")), float(r.get("x")) + float(r.get("width")),
             float(r.get("y")) + float(r.get("height")))
            for r in root.iter(NS + "rect") if r.get("class") == "box"]


def _texts(root):
    """(class, text, rect) of every text element, its rectangle from the font's metrics."""
    out = []
    for t in root.iter(NS + "text"):
        s = "".join(t.itertext())
        size = float(t.get("font-size"))
        w = len(s) * ADVANCE * size
        x = float(t.get("x"))
        if t.get("text-anchor") == "middle":
            x -= w / 2
        y = float(t.get("y"))
        out.append((t.get("class"), s, (x, y - 0.78 * size, x + w, y + 0.2 * size)))
    return out


def _overlap(a, b, tol=0.5) -> bool:
    return a[0] < b[2] - tol and b[0] < a[2] - tol and a[1] < b[3] - tol and b[1] < a[3] - tol


def _contains(outer, inner, tol=0.5) -> bool:
    return (outer[0] - tol <= inner[0] and inner[2] <= outer[2] + tol
            and outer[1] - tol <= inner[1] and inner[3] <= outer[3] + tol)


def assert_no_overlaps(svg: str) -> None:
    root = _parse_svg(svg)
    boxes = _boxes(root)
    assert boxes, "no boxes drawn"
    for a, b in itertools.combinations(boxes, 2):
        assert not _overlap(a, b), f"boxes overlap: {a} {b}"
    texts = _texts(root)
    for (ca, sa, a), (cb, sb, b) in itertools.combinations(texts, 2):
        assert not _overlap(a, b), f"labels overlap: {ca} {sa!r} {a} / {cb} {sb!r} {b}"
    for cls, s, r in texts:
        if cls == "blabel":  # a box's own text lies inside exactly that box
            inside = [bx for bx in boxes if _contains(bx, r)]
            assert len(inside) == 1, f"box label {s!r} {r} is not inside one box"
        else:  # wire labels, titles and legends stay clear of every box
            for bx in boxes:
                assert not _overlap(bx, r), f"{cls} {s!r} {r} overlaps box {bx}"
    w, h = float(root.get("width")), float(root.get("height"))
    for _, s, r in texts:
        assert r[0] >= 0 and r[1] >= 0 and r[2] <= w + 1 and r[3] <= h + 1, f"{s!r} clipped"
    for bx in boxes:
        assert bx[2] <= w and bx[3] <= h, f"box {bx} outside the {w}x{h} canvas"


@pytest.mark.parametrize("name", sorted(TERMS))
def test_term_diagram_valid_and_uncluttered(name):
    t = parse(TERMS[name])
    svg = draw(t, stream="j", title=name)
    assert_no_overlaps(svg)
    root = _parse_svg(svg)
    # one box per distinct subterm, one per use of a constant, plus the output (counted from
    # the term, not from the drawing code)
    nodes = set(t.walk())
    consts = {c for c in nodes if type(c).__name__ in ("Const", "Size")}
    const_uses = sum(1 for p in nodes for c in p.children if c in consts)
    assert len(_boxes(root)) == len(nodes - consts) + max(const_uses, len(consts)) + 1


def _stream_forms():
    for name, src in sorted(TERMS.items()):
        try:
            yield name, decompose(parse(src), "j")
        except ValueError:
            continue


@pytest.mark.parametrize("name,sf", list(_stream_forms()), ids=lambda v: v if isinstance(v, str)
                         else "")
@pytest.mark.parametrize("levels", [False, True])
def test_stream_form_panel(name, sf, levels):
    svg = draw(sf.as_term(), stream_form=sf, levels=levels, title=name)
    assert_no_overlaps(svg)
    root = _parse_svg(svg)
    frames = [r for r in root.iter(NS + "rect") if r.get("class") == "frame"]
    assert len(frames) == 1  # the loop over chunks
    text = " ".join("".join(t.itertext()) for t in root.iter(NS + "text"))
    for c in sf.components:  # every state component is drawn with its combine
        assert f"{c.name} " in text
    assert "tail" in text and "loop over chunks of j" in text
    if levels:
        strokes = {r.get("stroke") for r in root.iter(NS + "rect") if r.get("class") == "box"}
        assert {"#111111", "#f08c00", "#2b9348"} <= strokes  # HBM, SMEM, registers


def test_streamed_axis_highlighted_and_colours_stable():
    svg = draw(parse(TERMS["spherical"]), stream="j")
    root = _parse_svg(svg)
    halos = [p for p in root.iter(NS + "path") if p.get("class") == "halo"]
    assert halos and all(p.get("stroke") == "#d62728" for p in halos)  # j's fixed red
    wires = {p.get("class"): p.get("stroke") for p in root.iter(NS + "path")
             if (p.get("class") or "").startswith("wire axis-")}
    assert wires["wire axis-i"] == "#1f6fd1" and wires["wire axis-d"] == "#2a9d3a"
    # a name outside the palette gets the same colour in another diagram
    a = {p.get("class"): p.get("stroke") for p in _parse_svg(draw(parse(
        "(sum@zz (mul x[i,zz] y[zz]))"))).iter(NS + "path")}
    b = {p.get("class"): p.get("stroke") for p in _parse_svg(draw(parse(
        "(exp w[zz,q])"))).iter(NS + "path")}
    assert a["wire axis-zz"] == b["wire axis-zz"]
    # a wire over (b, h, i, d) is four parallel strands: four paths share its route's length
    q_strands = [p for p in root.iter(NS + "path") if (p.get("class") or "").startswith("wire ")]
    assert len(q_strands) > len(set(parse(TERMS["spherical"]).walk()))


def test_examples_render_without_overlaps():
    """Every example variant."""
    from wirefuse.commands.gallery import example_entries
    from wirefuse.report.html import analyse_term, trace_function
    root = os.path.join(os.path.dirname(__file__), "..", "examples")
    entries = example_entries(root)
    assert entries
    for path, name, fn, axes, stream, _ in entries:
        # the path finder with a short budget: this tests drawing, not proving
        a = analyse_term(trace_function(fn, axes), stream, name, search_seconds=0.2,
                         use_prover=False)
        assert_no_overlaps(draw(a.term, stream=stream, stream_form=a.stream_form, levels=True,
                                title=name))


GOLDEN_CASES = {
    "score": ("(mul 0.125 (sum@d (mul q[i,d] k[j,d])))", None, False),
    "l2_stream": ("(div (sum@j (mul s[i,j] v[j,e])) (sqrt (sum@j (square s[i,j]))))", "j", True),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden(name):
    src, stream, with_sf = GOLDEN_CASES[name]
    t = parse(src)
    sf = decompose(t, stream) if with_sf else None
    svg = draw(t, stream=stream, stream_form=sf, levels=with_sf, title=name)
    path = os.path.join(GOLDEN, f"{name}.svg")
    if os.environ.get("WIREFUSE_REGEN_GOLDEN"):
        os.makedirs(GOLDEN, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(svg)
    with open(path, encoding="utf-8") as f:
        want = f.read()
    assert svg == want, (f"{name}.svg changed; if the change is intended, regenerate with "
                         "WIREFUSE_REGEN_GOLDEN=1 and look at the result")


