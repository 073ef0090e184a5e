"""Plain SVG writing for the diagrams: axis colours, a text-width model, and a scene of primitives.

Every diagram is a `Scene`: rectangles, paths and texts in absolute coordinates.  Keeping the
coordinates absolute (no nested transforms) makes the SVG easy to check geometrically: a test can
parse it back and recompute every box and label rectangle.

Text is set in a monospace font so its width is predictable without a font engine:
`text_width(s, size) = len(s) · CHAR_W · size` (DejaVu Sans Mono's advance is 0.602 em).

>>> axis_colour("j")
'#d62728'
>>> axis_colour("head") == axis_colour("head")   # hashed, but stable across runs and diagrams
True
>>> text_width("sum", 10)
18.3
>>> esc('<a & "b">')
'&lt;a &amp; &quot;b&quot;&gt;'
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

FONT = "'DejaVu Sans Mono', Menlo, Consolas, monospace"
CHAR_W = 0.61  # em per character, a little above DejaVu Sans Mono's 0.602 to stay safe

# One colour per common axis name, fixed so the same axis looks the same in every diagram.
PALETTE = {
    "i": "#1f6fd1",  # queries: blue
    "j": "#d62728",  # keys / values, usually the streamed axis: red
    "d": "#2a9d3a",  # head dim: green
    "e": "#8e44ad",  # value dim: purple
    "b": "#a0522d",  # batch: brown
    "h": "#d4a017",  # heads: ochre
    "n": "#17a2b8",  # sequence: cyan
    "k": "#e377c2",  # pink
    "t": "#0d9488",  # tokens: teal
    "o": "#c026d3",  # output features: magenta
    "c": "#7a8b00",  # classes / vocabulary: olive
    "s": "#475569",  # slate
}

# Other names hash into these: discrete, well-separated hues (a continuous hash put two axes of
# one diagram in near-identical teals).
EXTRA = ["#be123c", "#4f46e5", "#65a30d", "#0284c7", "#b45309", "#7c3aed", "#1e3a8a",
         "#db2777", "#0f766e", "#a16207", "#6d28d9", "#15803d"]

# Memory levels, as in docs/theory.md §10: HBM black, SMEM orange, registers green.
LEVELS = {"HBM": "#111111", "SMEM": "#f08c00", "REG": "#2b9348"}
LEVEL_NAMES = {"HBM": "HBM", "SMEM": "SMEM", "REG": "registers"}


def axis_colour(axis: str) -> str:
    """The fixed colour of a common axis, else a stable hash of the name into EXTRA."""
    if axis in PALETTE:
        return PALETTE[axis]
    digest = hashlib.sha1(axis.encode()).digest()
    return EXTRA[int.from_bytes(digest[:4], "big") % len(EXTRA)]


def text_width(s: str, size: float) -> float:
    return round(len(s) * CHAR_W * size, 2)


def esc(s: str) -> str:
    return (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _f(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))


@dataclass
class Seg:
    """A run of text inside one label, with its own colour and weight."""
    text: str
    colour: str = "#222222"
    bold: bool = False
    underline: bool = False


@dataclass
class Text:
    x: float
    y: float  # baseline
    segs: list[Seg]
    size: float = 12.0
    anchor: str = "start"  # start | middle
    cls: str = "label"
    halo: bool = False  # a white outline so a wire passing underneath does not hide it

    @property
    def width(self) -> float:
        return text_width("".join(s.text for s in self.segs), self.size)

    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1): the baseline sits at 0.8 em below the top, descenders to 1.0 em."""
        w = self.width
        x0 = self.x - w / 2 if self.anchor == "middle" else self.x
        return (x0, self.y - 0.8 * self.size, x0 + w, self.y + 0.2 * self.size)


@dataclass
class Rect:
    x: float
    y: float
    w: float
    h: float
    cls: str = "box"
    fill: str = "#ffffff"
    stroke: str = "#333333"
    stroke_width: float = 1.2
    rx: float = 3.0
    dash: str | None = None
    title: str | None = None  # hover text: the full subterm


@dataclass
class Path:
    d: str
    stroke: str
    width: float = 1.5
    cls: str = "wire"
    opacity: float = 1.0
    dash: str | None = None
    fill: str = "none"


@dataclass
class Scene:
    width: float = 0.0
    height: float = 0.0
    items: list = field(default_factory=list)

    def add(self, item):
        self.items.append(item)
        return item

    def shifted(self, dx: float, dy: float) -> "Scene":
        """A copy of the scene moved by (dx, dy): panels are stacked this way."""
        out = Scene(self.width, self.height)
        for it in self.items:
            if isinstance(it, Rect):
                out.add(Rect(it.x + dx, it.y + dy, it.w, it.h, it.cls, it.fill, it.stroke,
                             it.stroke_width, it.rx, it.dash, it.title))
            elif isinstance(it, Text):
                out.add(Text(it.x + dx, it.y + dy, it.segs, it.size, it.anchor, it.cls, it.halo))
            elif isinstance(it, Path):
                out.add(Path(_shift_path(it.d, dx, dy), it.stroke, it.width, it.cls, it.opacity,
                             it.dash, it.fill))
        return out


def _shift_path(d: str, dx: float, dy: float) -> str:
    """Paths here use only absolute commands with x,y pairs (M, L, C)."""
    out = []
    for tok in d.split():
        if "," in tok:
            x, y = tok.split(",")
            out.append(f"{_f(float(x) + dx)},{_f(float(y) + dy)}")
        else:
            out.append(tok)
    return " ".join(out)


def path_d(points: list[tuple[float, float]], curved: bool = True) -> str:
    """A path through the points; with `curved`, cubic segments with horizontal tangents."""
    (x0, y0), rest = points[0], points[1:]
    parts = ["M", f"{_f(x0)},{_f(y0)}"]
    px, py = x0, y0
    for x, y in rest:
        if curved and abs(y - py) > 0.5:
            mx = (px + x) / 2
            parts += ["C", f"{_f(mx)},{_f(py)}", f"{_f(mx)},{_f(y)}", f"{_f(x)},{_f(y)}"]
        else:
            parts += ["L", f"{_f(x)},{_f(y)}"]
        px, py = x, y
    return " ".join(parts)


def to_svg(scene: Scene, title: str = "") -> str:
    """The scene as a standalone SVG document (also valid inline in HTML)."""
    w, h = _f(scene.width), _f(scene.height)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" font-family="{esc(FONT)}">']
    if title:
        out.append(f"<title>{esc(title)}</title>")
    out.append(f'<rect class="background" x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>')
    # Paint order: frames, wires, boxes, then text, so labels are never hidden.
    order = {"frame": 0, "wire": 1, "halo": 1, "box": 2}
    items = sorted(scene.items, key=lambda it: 3 if isinstance(it, Text) else order.get(
        it.cls.split()[0], 2))
    for it in items:
        if isinstance(it, Rect):
            dash = f' stroke-dasharray="{it.dash}"' if it.dash else ""
            body = f"<title>{esc(it.title)}</title>" if it.title else ""
            out.append(f'<rect class="{it.cls}" x="{_f(it.x)}" y="{_f(it.y)}" width="{_f(it.w)}" '
                       f'height="{_f(it.h)}" rx="{_f(it.rx)}" fill="{it.fill}" '
                       f'stroke="{it.stroke}" stroke-width="{_f(it.stroke_width)}"{dash}'
                       + (f">{body}</rect>" if body else "/>"))
        elif isinstance(it, Path):
            dash = f' stroke-dasharray="{it.dash}"' if it.dash else ""
            op = f' stroke-opacity="{it.opacity}"' if it.opacity != 1.0 else ""
            out.append(f'<path class="{it.cls}" d="{it.d}" fill="{it.fill}" stroke="{it.stroke}" '
                       f'stroke-width="{_f(it.width)}"{op}{dash}/>')
        else:
            halo = (' stroke="#ffffff" stroke-width="3" paint-order="stroke" '
                    'stroke-linejoin="round"') if it.halo else ""
            anchor = ' text-anchor="middle"' if it.anchor == "middle" else ""
            spans = []
            for s in it.segs:
                style = f' fill="{s.colour}"'
                if s.bold:
                    style += ' font-weight="bold"'
                if s.underline:
                    style += ' text-decoration="underline"'
                spans.append(f"<tspan{style}>{esc(s.text)}</tspan>")
            out.append(f'<text class="{it.cls}" x="{_f(it.x)}" y="{_f(it.y)}" '
                       f'font-size="{_f(it.size)}"{anchor}{halo} xml:space="preserve">'
                       + "".join(spans) + "</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
