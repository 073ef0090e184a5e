"""Path finding, certificates and the checker on hand-written attention variants, each compared
with a plain-PyTorch float64 reference; refusals; tamper rejection; the CLI; no egglog."""
import copy
import json
import os
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings, strategies as st

from wirefuse.theorems.checker import Reject, _check_numerics, check_certificate
from wirefuse.rewrite.ir.evaluate import evaluate, evaluate_labelled
from wirefuse.search.pathfind import find_path
from wirefuse.rewrite.ir.sexpr import parse
from wirefuse.rewrite.ir.term import Reduce
from wirefuse.theorems.certificate import certificate_summary, make_certificate, stream_form_of
from wirefuse.theorems.stream import NotNormal, StreamForm, decompose

S = "(mul 0.125 (sum@d (mul q[i,d] k[j,d])))"
V = "v[j,e]"


def L(x):
    return f"(layout@i,e {x})"


VARIANTS = {
    "softmax_stable": L(f"(sum@j (mul (div (exp (sub {S} (max@j {S}))) "
                        f"(sum@j (exp (sub {S} (max@j {S}))))) {V}))"),
    "spherical": L(f"(div (sum@j (mul {S} {V})) (sqrt (sum@j (square {S}))))"),
    "sigmoid": L(f"(sum@j (mul (sigmoid {S}) {V}))"),
    "relu_count": L(f"(sum@j (mul (div (relu {S}) |j|) {V}))"),
    "l1": L(f"(sum@j (mul (div {S} (sum@j (abs {S}))) {V}))"),
    "maxabs": L(f"(sum@j (mul (div {S} (max@j (abs {S}))) {V}))"),
    "softpick": L(f"(sum@j (mul (div (relu (sub (exp {S}) 1.0)) "
                  f"(add (sum@j (abs (sub (exp {S}) 1.0))) 1e-06)) {V}))"),
    "softmax_sq": L(f"(sum@j (mul (pow (div (exp {S}) (sum@j (exp {S}))) 2.0) {V}))"),
    "colnorm": L(f"(sum@j (mul (div (exp {S}) (sum@i (exp {S}))) {V}))"),
    "rmsnorm_matmul": "(layout@t,e (sum@d (mul (div x[t,d] (sqrt (add (div (sum@d (square x[t,d]))"
                      " |d|) 1e-06))) w[d,e])))",
}
AXIS = {k: "d" if k == "rmsnorm_matmul" else "j" for k in VARIANTS}
SHIFTED = {"softmax_stable", "softmax_sq"}


def _scores(q, k):
    return q @ k.T * 0.125


REFERENCE = {  # plain torch, float64
    "softmax_stable": lambda q, k, v: torch.softmax(_scores(q, k), -1) @ v,
    "spherical": lambda q, k, v: (_scores(q, k) @ v)
    / _scores(q, k).square().sum(-1, keepdim=True).sqrt(),
    "sigmoid": lambda q, k, v: torch.sigmoid(_scores(q, k)) @ v,
    "relu_count": lambda q, k, v: torch.relu(_scores(q, k)) / k.shape[0] @ v,
    "l1": lambda q, k, v: _scores(q, k) / _scores(q, k).abs().sum(-1, keepdim=True) @ v,
    "maxabs": lambda q, k, v: _scores(q, k) / _scores(q, k).abs().amax(-1, keepdim=True) @ v,
    "softpick": lambda q, k, v: torch.relu(torch.expm1(_scores(q, k)))
    / (torch.expm1(_scores(q, k)).abs().sum(-1, keepdim=True) + 1e-6) @ v,
    "softmax_sq": lambda q, k, v: torch.softmax(_scores(q, k), -1) ** 2 @ v,
    "colnorm": lambda q, k, v: torch.softmax(_scores(q, k), 0) @ v,
}


def _inputs(name, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    if name == "rmsnorm_matmul":
        return {"x": r(3, 6), "w": r(6, 2)}
    return {"q": r(3, 4), "k": r(5, 4), "v": r(5, 2)}


def _reference(name, env):
    if name == "rmsnorm_matmul":
        x, w = env["x"], env["w"]
        return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + 1e-6) @ w
    return REFERENCE[name](env["q"], env["k"], env["v"])


def _stream(sf: StreamForm, env, cuts):
    """An independent streaming loop: fold each component chunk by chunk, then the tail."""
    axis = sf.axis
    n = next(v.shape[x.axes.index(axis)] for c in sf.components for x in c.body.walk()
             if type(x).__name__ == "Input" and axis in x.axes for v in [env[x.name]])
    bounds = list(zip([0] + cuts, cuts + [n]))
    ops = {"sum": torch.add, "max": torch.maximum, "min": torch.minimum, "prod": torch.mul}
    state = {}
    for c in sf.components:
        acc = None
        for lo, hi in bounds:
            chunk = {}
            for x in c.body.walk():
                if type(x).__name__ == "Input":
                    t = env[x.name]
                    chunk[x.name] = t.narrow(x.axes.index(axis), lo, hi - lo) \
                        if axis in x.axes else t
            part = evaluate_labelled(Reduce(c.monoid, axis, c.body), chunk, {axis: hi - lo}).t
            acc = part if acc is None else ops[c.monoid](acc, part)
        state[c.name] = acc
    return evaluate(sf.tail, **state, **{k: v for k, v in env.items()})


@pytest.fixture(scope="module")
def certs():
    out = {}
    for name, src in VARIANTS.items():
        t = parse(src)
        steps = find_path(t, AXIS[name])
        assert steps is not None, name
        out[name] = make_certificate(t, AXIS[name], steps)
    return out


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_proven_checked_and_streams_like_torch(name, certs):
    cert = certs[name]
    env = _inputs(name)
    ref = _reference(name, env)
    assert torch.allclose(evaluate(parse(VARIANTS[name]), **env), ref, rtol=1e-9, atol=1e-12)
    result = check_certificate(json.loads(json.dumps(cert)))
    assert result.ok, result.reason
    sf = stream_form_of(cert)
    assert torch.allclose(evaluate(sf.as_term(), **env), ref, rtol=1e-9, atol=1e-12)
    for cuts in ([], [1], [2, 3], [1, 2, 4]):
        assert torch.allclose(_stream(sf, env, cuts), ref, rtol=1e-9, atol=1e-12), cuts
    assert (cert["shift"] is not None) == (name in SHIFTED), cert["shift"]


def test_softmax_shift_state_and_combine(certs):
    cert = certs["softmax_stable"]
    # torch's max-subtracted softmax is polished to FlashAttention's form: sums (o, z), tail
    # o / z, and the running max as a shift, not as a separate max state
    assert [s["monoid"] for s in cert["state"]] == ["sum", "sum"]
    assert "tail       o / z" in certificate_summary(cert)
    assert cert["combine"][cert["shift"]["max_state"]]["monoid"] == "max"
    assert cert["shift"]["degrees"] == {"z": "1", "o": "1"}
    assert certs["softmax_sq"]["shift"]["degrees"] == {"z": "1", "o": "2"}


def test_softpick_gets_no_shift(certs):
    assert certs["softpick"]["shift"] is None  # relu(e^s − 1) is not homogeneous in e^s


def test_spherical_reads_like_the_paper():
    t = parse("(layout@i,e (div (sum@j (mul s[i,j] v[j,e])) (sqrt (sum@j (square s[i,j])))))")
    cert = make_certificate(t, "j", find_path(t, "j"))
    text = certificate_summary(cert)
    assert "state      (o, z)" in text
    assert "B((o, z), (s, v)) = (o + Σ_j s·v, z + Σ_j s²)" in text
    assert "tail       o / sqrt(z)" in text
    assert check_certificate(cert).ok


def test_traced_form_of_spherical_in_the_brief():
    t = parse(L(f"(div (sum@j (mul {S} {V})) (sqrt (sum@j (square {S}))))"))
    cert = make_certificate(t, "j", find_path(t, "j"))
    assert [s["name"] for s in cert["state"]] == ["o", "z"]
    assert "o / sqrt(z)" in certificate_summary(cert)


# --- refusals -------------------------------------------------------------------------------------
@pytest.mark.parametrize("src, why", [
    (L(f"(sum@j (mul (exp (div {S} (sum@j {S}))) {V}))"), "another reduction over j"),
    (L(f"(sum@j (mul (tanh (div {S} (sqrt (sum@j (square {S}))))) {V}))"),
     "another reduction over j"),
    (L(f"(sum@j (mul (relu (sub {S} (div (sum@j {S}) |j|))) {V}))"), "over j"),
    (L(f"(sum@j (mul (sub {S} (median@j {S})) {V}))"), "median"),
    (L(f"(sum@j (mul (sort@j {S}) {V}))"), "sort"),
])
def test_refusals(src, why):
    t = parse(src)
    assert find_path(t, "j", max_steps=120, max_seconds=3) is None
    with pytest.raises(NotNormal, match=why):
        decompose(t, "j")


# --- tampering --------------------------------------------------------------------------------------
def _tampered(cert, edit):
    c = copy.deepcopy(cert)
    edit(c)
    return check_certificate(c)


def test_tamper_rejections(certs):
    soft, sph, l1, pick = (certs[k] for k in ("softmax_stable", "spherical", "l1", "softpick"))
    cases = {
        "other tail": (soft, lambda c: c.update(tail=sph["tail"]), "tail"),
        "other combine": (soft, lambda c: c.update(combine=l1["combine"]), "combine"),
        "other term": (soft, lambda c: c.update(term=l1["term"]), "steps"),
        "other term, no steps": (sph, lambda c: c.update(term=certs["sigmoid"]["term"], steps=[]),
                                 "state"),
        "unproven term, no steps": (sph, lambda c: c.update(term=pick["term"], steps=[]),
                                    "normal form"),
        "step deleted": (soft, lambda c: c["steps"].pop(3), "steps"),
        "last steps deleted": (l1, lambda c: c.update(steps=c["steps"][:1]), "normal form"),
        # the unpolished term folds the same reductions under another tail
        "polishing step deleted": (l1, lambda c: c["steps"].pop(), "tail"),
        "rule renamed": (soft, lambda c: c["steps"][1].update(rule="sum_of_add"), "steps"),
        "rule unknown": (soft, lambda c: c["steps"][1].update(rule="trust_me"), "steps"),
        "position moved": (soft, lambda c: c["steps"][2].update(position=[0, 1]), "steps"),
        "bindings changed": (soft, lambda c: c["steps"][1].update(bindings={"i": 0}), "steps"),
        "step result edited": (l1, lambda c: c["steps"][-1].update(term=sph["tail"]), "steps"),
        "state body": (sph, lambda c: c["state"][1].update(body="(abs s[i,j])"), "state"),
        "state monoid": (sph, lambda c: c["state"][1].update(monoid="max"), "state"),
        "identity": (sph, lambda c: c["init"].update(z=1.0), "init"),
        "max identity": (certs["maxabs"], lambda c: c["init"].update(m=0.0), "init"),
        "combine expr": (sph, lambda c: c["combine"]["z"].update(expr="z_1*z_2"), "combine"),
        "combine monoid": (sph, lambda c: c["combine"]["z"].update(monoid="max"), "combine"),
        "shift combine": (soft, lambda c: c["combine"]["o"].update(expr="o_1 + o_2"), "combine"),
        "shift degree": (certs["softmax_sq"],
                         lambda c: c["shift"]["degrees"].update(o="1"), "shift"),
        "shift pasted on softpick": (pick, lambda c: c.update(
            shift={"u": "(mul (sum@d (mul k[j,d] q[i,d])) 0.125)", "max_state": "m",
                   "degrees": {"z": "1", "o": "1"}}), "shift"),
        "shift removed but init kept": (soft, lambda c: c.update(shift=None), "init"),
        "code in combine": (sph, lambda c: c["combine"]["z"].update(
            expr="__import__('os').system('true')"), "combine"),
        "axis": (sph, lambda c: c.update(stream_axis="d"), "state"),
        "axis kept by the result": (sph, lambda c: c.update(stream_axis="e"), "normal form"),
    }
    for label, (base, edit, part) in cases.items():
        r = _tampered(base, edit)
        assert not r.ok, label
        assert r.part == part, (label, r.reason)
        if part == "steps":
            assert r.failed_step is not None and f"step {r.failed_step}" in r.reason, label
    assert _tampered(soft, lambda c: c["steps"].pop(3)).failed_step == 3
    assert _tampered(soft, lambda c: c["steps"][5].update(rule="exp_of_sum")).failed_step == 5


def test_numerics_is_a_second_line():
    t = parse(VARIANTS["spherical"])
    sf = decompose(find_path(t, "j")[-1].term if find_path(t, "j") else t, "j")
    wrong = StreamForm(sf.axis, sf.components, parse("(layout@i,e (div $o[i,e] $z[i]))"))
    with pytest.raises(Reject, match="differ"):
        _check_numerics(t, wrong, None, 2, 0)
    _check_numerics(t, sf, None, 2, 0)


def test_malformed_certificates_are_rejected_not_raised(certs):
    for bad in ({}, {"stream_axis": "j"}, {**certs["spherical"], "steps": [{"rule": 1}]},
                {**certs["spherical"], "tail": "(div"}, []):
        assert not check_certificate(bad).ok


# --- CLI and the egglog-free path ----------------------------------------------------------------
BLOCK_EGGLOG = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "egglog" or name.startswith("egglog."):
            raise ImportError("egglog is blocked in this test")
sys.meta_path.insert(0, Block())
"""


def _run(code, *args):
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.getcwd()}, timeout=120)


def test_checker_and_cli_without_egglog(tmp_path, certs):
    """One subprocess (imports are slow) with egglog unimportable: the checker verifies, the CLI
    exits 0 valid / 1 rejected / 2 unreadable with one line, and egglog was never imported."""
    good = tmp_path / "good.json"
    good.write_text(json.dumps(certs["softmax_stable"]))
    sph = tmp_path / "sph.json"
    sph.write_text(json.dumps(certs["spherical"]))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**certs["spherical"], "tail": certs["l1"]["tail"]}))
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    code = BLOCK_EGGLOG + """
import contextlib, io, json
from wirefuse.theorems.checker import check_certificate
r = check_certificate(json.load(open(sys.argv[1])))
assert r.ok, r.reason
from wirefuse.cli import main
runs = []
for path in sys.argv[2:]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(["check", path])
        except SystemExit as e:
            rc = e.code
    runs.append([rc, out.getvalue(), err.getvalue()])
assert not any(m == "egglog" or m.startswith("egglog.") for m in sys.modules)
print(json.dumps(runs))
"""
    out = _run(code, str(good), str(sph), str(bad), str(junk), str(tmp_path / "missing.json"))
    assert out.returncode == 0, out.stderr
    runs = json.loads(out.stdout.splitlines()[-1])
    assert runs[0][0] == 0 and "valid" in runs[0][1] and "o / sqrt(z)" in runs[0][1]
    assert runs[1][0] == 1 and "rejected" in runs[1][1] and "tail" in runs[1][1]
    for rc, stdout, stderr in runs[2:]:
        assert rc == 2 and stderr.count("\n") == 1 and "Traceback" not in stderr


def test_python_api(tmp_path, certs):
    import wirefuse
    path = tmp_path / "c.json"
    path.write_text(json.dumps(certs["l1"]))
    assert wirefuse.check(str(path)).ok and wirefuse.check(certs["l1"]).ok


@pytest.mark.parametrize("name, target", [
    ("l1", L(f"(mul (pow (sum@j (abs {S})) -1.0) (sum@j (mul {S} {V})))")),
    ("softmax_sq", L(f"(mul (pow (sum@j (exp {S})) -2.0) (sum@j (mul (pow (exp {S}) 2.0) {V})))")),
    ("softmax_stable", L(f"(div (sum@j (mul (exp {S}) {V})) (sum@j (exp {S})))")),
])
def test_path_to_a_given_target(name, target):
    """The e-graph hands over the normal form it extracted: the path ends exactly there."""
    from wirefuse.rules.base import canon
    t = parse(VARIANTS[name])
    steps = find_path(t, "j", target=parse(target), require_target=True)
    assert steps is not None and steps[-1].term is canon(parse(target))
    assert check_certificate(make_certificate(t, "j", steps)).ok


# --- random tampering: whatever the checker accepts is true ------------------------------------------
MUTATIONS = ["rule", "position", "delete", "swap", "tail", "body", "monoid", "axis"]


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(["softmax_stable", "l1", "softmax_sq", "relu_count", "spherical"]),
       how=st.sampled_from(MUTATIONS), data=st.data())
def test_random_tampering_never_yields_a_false_acceptance(certs, name, how, data):
    from wirefuse.rules import ALL_RULES
    c = copy.deepcopy(certs[name])
    steps = c["steps"]
    pick = lambda xs: data.draw(st.sampled_from(xs))  # noqa: E731
    if how == "rule" and steps:
        pick(steps)["rule"] = pick(sorted(ALL_RULES))
    elif how == "position" and steps:
        s = pick(steps)
        s["position"] = s["position"][:-1] + [data.draw(st.integers(0, 3))] \
            if s["position"] else [data.draw(st.integers(0, 3))]
    elif how == "delete" and steps:
        steps.pop(data.draw(st.integers(0, len(steps) - 1)))
    elif how == "swap" and len(steps) > 1:
        i = data.draw(st.integers(0, len(steps) - 2))
        steps[i], steps[i + 1] = steps[i + 1], steps[i]
    elif how == "tail":
        c["tail"] = f"(mul {pick(['2.0', '1.0000001', '-1.0'])} {c['tail']})"
    elif how == "body":
        s = pick(c["state"])
        s["body"] = pick([x["body"] for x in c["state"]] + ["(exp s[i,j])", "1.0"])
    elif how == "monoid":
        pick(c["state"])["monoid"] = pick(["sum", "max", "min", "prod"])
    elif how == "axis":
        c["stream_axis"] = pick(["i", "d", "e", "j"])
    r = check_certificate(c)
    if r.ok:  # accepted: then what it states must be true of the term it names
        term = parse(c["term"]["sexpr"])
        env = _inputs(name, seed=7)
        sf = stream_form_of(c)
        a, b = evaluate(term, **env), evaluate(sf.as_term(), **env)
        assert torch.allclose(a, b.reshape(a.shape) if b.numel() == a.numel() else b,
                              rtol=1e-9, atol=1e-12)
    else:
        assert r.reason and r.part


def test_layernorm_matmul_over_hidden_with_the_egraph_target():
    """LayerNorm then a matmul, streamed over h: Σ (x − μ)² expands to Σ x², Σ x, |h| = Σ 1.
    Given the normal form (as the e-graph hands it over) the path is found fast; the result is
    checked against torch."""
    src = ("(layout@t,o (sum@h (mul (div (sub x[t,h] (div (sum@h x[t,h]) |h|)) (sqrt (add (div "
           "(sum@h (square (sub x[t,h] (div (sum@h x[t,h]) |h|)))) |h|) 1e-05))) w[h,o])))")
    mu, n = "(neg (div (sum@h x[t,h]) (sum@h 1.0)))", "(sum@h 1.0)"
    target = (f"(layout@t,o (div (add (mul {mu} (sum@h w[h,o])) (sum@h (mul w[h,o] x[t,h]))) "
              f"(sqrt (add (div (add (mul {mu} {mu} {n}) (mul {mu} (sum@h x[t,h])) "
              f"(mul {mu} (sum@h x[t,h])) (sum@h (mul x[t,h] x[t,h]))) {n}) 1e-05))))")
    t = parse(src)
    steps = find_path(t, "h", target=parse(target), max_seconds=10, require_target=True)
    assert steps is not None
    cert = make_certificate(t, "h", steps)
    assert check_certificate(cert).ok
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 7, generator=g, dtype=torch.float64)
    w = torch.randn(7, 2, generator=g, dtype=torch.float64)
    ref = torch.nn.functional.layer_norm(x, (7,), eps=1e-5) @ w
    assert torch.allclose(evaluate(stream_form_of(cert).as_term(), x=x, w=w), ref, rtol=1e-8)
