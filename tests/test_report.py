"""Proof reports: the page's parts, the math notation, the CLI's errors, and a headless-Chromium
render (skipped with a message when chromium is not installed)."""
from __future__ import annotations

import html.parser
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from wirefuse.cli import main
from wirefuse.report.html import (analyse_term, bench_html, build_page, math_text, report_html,
                                  steps_html)
from wirefuse.rewrite.ir.sexpr import parse

SPHERICAL = "(div (sum@j (mul s[i,j] v[j,e])) (sqrt (sum@j (square s[i,j]))))"
NESTED = "(sum@j (mul (exp (div s[i,j] (sum@j s[i,j]))) v[j,e]))"


class _Collect(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.ids, self.text, self.external = [], set(), [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if "id" in a:
            self.ids.add(a["id"])
        for k in ("src", "href"):  # a self-contained page fetches nothing
            if a.get(k) and "://" in a[k]:
                self.external.append(a[k])
        if tag == "link":
            self.external.append(str(a))

    def handle_data(self, data):
        self.text.append(data)


def _collect(page: str) -> _Collect:
    c = _Collect()
    c.feed(page)
    return c


def test_math_notation_against_hand_written():
    cases = {
        "(div (exp s[i,j]) (sum@j (exp s[i,j])))": "exp(s_{i,j}) / (Σ_{j} exp(s_{i,j}))",
        "(sub a[i] (sub b[i] c[i]))": "a_{i} − (b_{i} − c_{i})",
        "(mul (add a[i] b[i]) c[i])": "(a_{i} + b_{i}) · c_{i}",
        "(max@j (abs s[i,j]))": "max_{j} |s_{i,j}|",
        "(square (add x[i] 1.0))": "(x_{i} + 1)^{2}",
        "(div |j| (sqrt $z[i]))": "|j| / √(z_{i})",
        "(median@j s[i,j])": "median_{j}(s_{i,j})",
    }
    for src, want in cases.items():
        assert math_text(parse(src)) == want, src


def test_report_page_parts():
    a = analyse_term(parse(SPHERICAL), "j", "spherical", "def spherical(s, v):\n    ...\n",
                     use_prover=False)
    rows = [{"variant": "spherical", "shape": [2, 16, 4096, 128], "TFLOP/s": 589.0},
            {"variant": "softmax", "shape": [2, 16, 4096, 128], "TFLOP/s": 345.0}]
    page = report_html(a, rows)
    c = _collect(page)
    assert not c.external
    text = " ".join(c.text)
    assert "streamable along j" in text and "def spherical" in text
    for section in ("Source", "String diagram", "Stream form", "Proof steps", "Measured speed"):
        assert section in text
    assert "589.0" in text and "345.0" not in text  # only this variant's rows
    assert "svg" in c.tags and "render-status" in c.ids
    # the state components and the tail, in math notation
    assert "identity 0" in text and "out" in text


def test_refused_term_says_why_and_claims_nothing():
    a = analyse_term(parse(NESTED), "j", "nested", search_seconds=1.0, use_prover=False)
    assert a.streamable is not True and a.stream_form is None
    page = report_html(a)
    text = " ".join(_collect(page).text)
    assert "not proven streamable along j" in text
    assert "another reduction over j" in text


def test_steps_table_reads_step_dicts():
    before = parse("(sum@j (mul 2.0 x[i,j]))")
    steps = [{"rule": "factor_out_of_sum", "position": [], "bindings": {"factor": "2.0"},
              "term": "(mul 2.0 (sum@j x[i,j]))"}]
    out = steps_html(steps, before)
    assert "factor_out_of_sum" in out and "<td>root" in out
    assert "Σ" in out and out.count("<tr>") == 2
    assert "already in stream normal form" in steps_html([], before)


def test_bench_shows_all_rows_when_none_match():
    out = bench_html([{"variant": "x", "shape": "1x2", "tflops": 10}], "spherical")
    assert "No row names spherical" in out and "10.0" in out


def test_cli_errors_are_one_line_exit_2(tmp_path, capsys):
    out = str(tmp_path / "o.svg")
    cases = [
        ["show", "--term", "(div (sum@j", "-o", out],
        ["show", "nofile.py:f", "--axes", "q: i d", "-o", out],
        ["show", "-o", out],
        ["report", "--term", SPHERICAL, "--stream", "j", "-o", str(tmp_path / "r.html"),
         "--bench", str(tmp_path / "missing.json")],
        ["show", "--term", SPHERICAL, "-o", str(tmp_path / "no" / "dir" / "x.svg")],
    ]
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    cases.append(["report", "--term", SPHERICAL, "-o", str(tmp_path / "r.html"), "--bench",
                  str(bad)])
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("wirefuse: error:") and "\n" not in err and "Traceback" not in err


def test_cli_show_and_report_write_files(tmp_path):
    svg, page = tmp_path / "s.svg", tmp_path / "r.html"
    assert main(["show", "--term", SPHERICAL, "--stream", "j", "--levels", "-o", str(svg)]) == 0
    assert svg.read_text().startswith("<svg")
    bench = tmp_path / "b.json"
    bench.write_text(json.dumps([{"variant": "term", "shape": "1,16,4096,128",
                                  "TFLOP/s": 500}]))
    assert main(["report", "--term", SPHERICAL, "--stream", "j", "-o", str(page), "--bench",
                 str(bench)]) == 0
    assert "500.0" in page.read_text()


def test_gallery_renders_every_example(tmp_path):
    """A miniature examples folder."""
    ex = tmp_path / "examples"
    ex.mkdir()
    (ex / "mini.py").write_text(
        "import torch\n\n"
        "def l2(s, v):\n"
        "    return (s @ v) / torch.sqrt((s * s).sum(-1, keepdim=True))\n\n"
        "EXAMPLES = {'l2': {'axes': 's: i j, v: j e', 'stream': 'j', "
        "'expected': 'streamable'}}\n")
    out = tmp_path / "gallery"
    rc = main(["gallery", "-o", str(out), "--examples", str(ex), "--reports", "--no-egraph"])
    index = (out / "index.html").read_text()
    assert "mini-l2.svg" in index and (out / "mini-l2.html").exists()
    assert "streamable along j" in index and "as expected" in index
    assert rc == 0, index


# ---------------------------------------------------------------------------------------------
# headless Chromium

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_renders_in_headless_chromium(tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); "
                    "the HTML report was not rendered")
    a = analyse_term(parse(SPHERICAL), "j", "spherical", "def spherical(s, v):\n    ...\n",
                     use_prover=False)
    page = tmp_path / "report.html"
    page.write_text(report_html(a, [{"variant": "spherical", "shape": "2x16x4096x128",
                                     "TFLOP/s": 589.0}]))
    profile = tempfile.mkdtemp(dir=tmp_path)
    base = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=3000"]
    dom = subprocess.run(base + ["--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=60)
    assert dom.returncode == 0, dom.stderr[-2000:]
    # the page's own script ran after load and found no errors and the inline diagram
    assert 'id="render-status"' in dom.stdout
    assert 'data-errors="0"' in dom.stdout, dom.stdout[-3000:]
    assert ">rendered<" in dom.stdout
    n_svgs = int(dom.stdout.split('data-svgs="')[1].split('"')[0])
    assert n_svgs >= 1
    shot = tmp_path / "report.png"
    r = subprocess.run(base + [f"--screenshot={shot}", "--window-size=1280,1600", page.as_uri()],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and shot.exists()
    with open(shot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(shot) > 20_000  # not a blank page




def test_report_never_says_streamable_when_the_checker_rejects():
    """A prover answer claiming a proof whose certificate does not replay is shown as not
    proven, with the checker's rejection (the report trusts the checker, not the search)."""
    from types import SimpleNamespace

    from wirefuse.report.html import Analysis, _from_proof
    from wirefuse.search.pathfind import find_path
    from wirefuse.theorems.certificate import make_certificate, stream_form_of
    t = parse("(sum@j (mul (div (exp s[i,j]) (sum@j (exp s[i,j]))) v[j,e]))")
    cert = make_certificate(t, "j", find_path(t, "j"))
    good = _from_proof(SimpleNamespace(streamable=True, reason="proven", certificate=cert,
                                       stream_form=stream_form_of(cert)),
                       Analysis("softmax", t, "j"))
    assert good.streamable is True and good.checker_ok is True
    page = report_html(good)
    assert "accepted" in page and "sum_factor_out" in page
    bad_cert = json.loads(json.dumps(cert))
    bad_cert["steps"][0]["rule"] = "sum_of_add"  # a step that does not replay
    bad = _from_proof(SimpleNamespace(streamable=True, reason="proven", certificate=bad_cert,
                                      stream_form=stream_form_of(cert)),
                      Analysis("softmax", t, "j"))
    assert bad.streamable is not True and bad.stream_form is None and bad.checker_ok is False
    page = report_html(bad)
    text = " ".join(_collect(page).text)
    assert "not proven streamable along j" in text and "rejected" in text
    assert bad.reason.startswith("not proven") and "Stream form" not in text
