"""The checker is a small trusted kernel of its own: its import closure holds only the term
language, the rule table, sympy and torch; it runs where egglog cannot be imported; and its own
homogeneity and normal-form checks reject tampered shift claims, states and tails even where
the prover's code (theorems.shift, theorems.stream) is made to accept anything."""
import copy
import json
import os
import subprocess
import sys

import pytest

from wirefuse.rewrite.ir.sexpr import parse
from wirefuse.search.pathfind import find_path
from wirefuse.theorems.certificate import make_certificate
from wirefuse.theorems.checker import check_certificate

SOFTMAX = "(div (sum@j (mul (exp s[i,j]) v[j,e])) (sum@j (exp s[i,j])))"
SOFTMAX_SQ = "(mul (sum@j (mul (pow (exp s[i,j]) 2.0) v[j,e])) (pow (sum@j (exp s[i,j])) -2.0))"
EPS = "(div (sum@j (mul (exp s[i,j]) v[j,e])) (add (sum@j (exp s[i,j])) 1e-06))"
FORBIDDEN = ("wirefuse.search", "wirefuse.lowering", "wirefuse.kernels", "wirefuse.commands",
             "wirefuse.report", "wirefuse.draw", "wirefuse.theorems.shift",
             "wirefuse.theorems.stream", "egglog")


def _cert(src):
    t = parse(src)
    return make_certificate(t, "j", find_path(t, "j"))


def _python(code, *args):
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.getcwd()}, timeout=120)


def test_import_closure_is_the_trusted_base_only():
    out = _python("import sys, json, wirefuse.theorems.checker\n"
                  "print(json.dumps(sorted(sys.modules)))")
    assert out.returncode == 0, out.stderr
    mods = json.loads(out.stdout.splitlines()[-1])
    assert "wirefuse.theorems.checker" in mods and "wirefuse.rules" in mods
    leaked = [m for m in mods if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert leaked == []


def test_accepts_a_certificate_where_egglog_cannot_be_imported(tmp_path):
    path = tmp_path / "softmax.json"
    path.write_text(json.dumps(_cert(SOFTMAX)))
    code = ("import sys, json\nsys.modules['egglog'] = None  # import egglog now fails\n"
            "from wirefuse.theorems.checker import check_certificate, load_certificate\n"
            "r = check_certificate(load_certificate(sys.argv[1]))\n"
            "print(json.dumps([r.ok, r.reason]))")
    out = _python(code, str(path))
    assert out.returncode == 0, out.stderr
    ok, reason = json.loads(out.stdout.splitlines()[-1])
    assert ok, reason
    assert "state (o, z)" in reason


@pytest.fixture
def prover_side_accepts_anything(monkeypatch):
    """The prover's shift and normal-form code, made to agree with any claim: a checker that
    leaned on it would now accept the tampered certificates below."""
    import wirefuse.theorems.shift as shift
    import wirefuse.theorems.stream as stream
    monkeypatch.setattr(shift, "_degree", lambda body, u: 1)
    monkeypatch.setattr(shift, "tail_invariant", lambda sf, degrees: True)
    real = stream.decompose
    monkeypatch.setattr(stream, "decompose", lambda term, axis: real(parse(SOFTMAX), "j"))


def _tampered(src, edit):
    c = copy.deepcopy(_cert(src))
    edit(c)
    return check_certificate(c)


def test_wrong_degree_is_rejected_by_the_checkers_homogeneity(prover_side_accepts_anything):
    r = _tampered(SOFTMAX_SQ, lambda c: c["shift"]["degrees"].update(o="1"))
    assert not r.ok and r.part == "shift" and "not homogeneous of degree 1" in r.reason
    r = _tampered(SOFTMAX, lambda c: c["shift"]["degrees"].update(z="-1"))
    assert not r.ok and r.part == "shift" and "homogeneous" in r.reason


def test_non_invariant_tail_is_rejected_by_the_checkers_homogeneity(prover_side_accepts_anything):
    """o / (z + ε) is not invariant under rescaling (o, z): the prover's shift code, made to
    accept anything, now writes a shift claim for it; the checker's own sympy check refuses."""
    cert = _cert(EPS)
    assert cert["shift"] is not None  # the broken prover side claims it
    r = check_certificate(cert)
    assert not r.ok and r.part == "shift" and "not shown invariant" in r.reason, r.reason


@pytest.mark.parametrize("edit, part, why", [
    (lambda c: c.update(tail="(mul 2.0 (div $o[i,e] $z[i]))"), "tail", "not the final term"),
    (lambda c: c.update(tail="(div $o[i,e] (sum@j (exp s[i,j])))"), "tail", "mentions j"),
    (lambda c: c.update(tail="(div $o[i,e] $w[i])"), "tail", "not a stated state"),
    (lambda c: c["state"][1].update(body="(exp (sub s[i,j] (max@j s[i,j])))"), "state",
     "not j-local"),
    (lambda c: c["state"][1].update(body="(exp (mul 2.0 s[i,j]))"), "state", "stated state"),
    (lambda c: c["state"][0].update(axes=["e", "i"]), "state", "axes"),
    (lambda c: c["state"].pop(), "tail", "not a stated state"),
])
def test_tampered_state_or_tail_is_rejected_by_the_checkers_normal_form(
        prover_side_accepts_anything, edit, part, why):
    r = _tampered(SOFTMAX, edit)
    assert not r.ok and r.part == part and why in r.reason, r.reason
