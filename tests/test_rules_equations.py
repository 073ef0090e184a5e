"""Every rule's equation, property-tested: random subterms, shapes and values, both sides evaluated
in float64 by the reference evaluator and compared where both are defined (finite); side
conditions hold whenever a rule fires, and rules whose side conditions fail do not fire."""
import pytest
import torch
from hypothesis import given, settings, strategies as st

from wirefuse.rewrite.ir.evaluate import evaluate
from wirefuse.rewrite.ir.sexpr import parse
from wirefuse.rules import ALL_RULES
from wirefuse.rules.base import canon
from wirefuse.rules.sign import nonneg

# Leaves and small subterms over axes i (kept) and n (the reduced one).
DEP = ["x[i,n]", "y[n]", "(mul x[i,n] y[n])", "(exp y[n])", "(add x[i,n] 0.5)", "(abs y[n])",
       "#n", "(sub #n #i)"]
IND = ["z[i]", "(sum@n x[i,n])", "|n|", "2.5", "(max@n y[n])", "(exp z[i])", "-1.5", "#i"]
POS_IND = ["(exp z[i])", "|n|", "2.5", "(square z[i])", "(sum@n (exp x[i,n]))"]
ANY = DEP + IND
EXPS = ["2.0", "-1.0", "3.0", "0.5", "-0.5", "1.5", "-2.0"]
INT_EXPS = ["2.0", "-1.0", "3.0", "-2.0", "1.0"]

# rule -> templates in which it must fire; A B C: any subterm, I: independent of n,
# Q: positive and independent of n, P: any exponent, K: an integer exponent
TEMPLATES = {
    "sub_to_add_neg": ["(sub A B)"],
    "neg_to_mul": ["(neg A)"],
    "div_to_mul_pow": ["(div A B)"],
    "mul_pow_to_div": ["(mul A (pow B -1.0))"],
    "sqrt_to_pow": ["(sqrt A)"], "pow_to_sqrt": ["(pow A 0.5)"],
    "rsqrt_to_pow": ["(rsqrt A)"], "pow_to_rsqrt": ["(pow A -0.5)"],
    "square_to_pow": ["(square A)"], "pow_to_square": ["(pow A 2.0)"],
    "pow_of_product": ["(pow (mul A B) K)", "(pow (mul (exp A) (abs B)) P)"],
    "pow_of_pow": ["(pow (pow A P) K)", "(pow (pow (exp A) P) P)"],
    "collect_powers": ["(mul (pow A K) (pow A K) B)", "(mul (exp A) (pow (exp A) P))",
                       "(mul A A)"],
    "pow_to_mul": ["(pow A 2.0)", "(pow A 3.0)"],
    "pow_one": ["(pow A 1.0)"], "pow_zero": ["(pow A 0.0)"],
    "exp_of_sum": ["(exp (add A B))", "(exp (add A B C))"],
    "mul_of_exps": ["(mul (exp A) (exp B) C)"],
    "pow_of_exp": ["(pow (exp A) P)"],
    "distribute": ["(mul A (add B C))"],
    "expand_product": ["(mul (add A B) (add B C))", "(mul A (add B C) (add x[i,n] y[n]))"],
    "drop_unit": ["(mul 1.0 A)", "(add 0.0 A B)"],
    "flatten": ["(mul (mul A B) C)", "(add A (add B C))"],
    "const_fold": ["(add 2.0 3.5 A)", "(mul 0.5 -4.0 A)", "(exp 0.5)", "(pow 3.0 -2.0)"],
    "sum_factor_out": ["(sum@n (mul I A))", "(sum@n (mul A (pow (sum@n A) -1.0)))"],
    "maxmin_factor_out": ["(max@n (mul Q A))", "(min@n (mul Q A B))"],
    "maxmin_add_const": ["(max@n (add I A))", "(min@n (add A I B))"],
    "sum_of_add": ["(sum@n (add A B))"],
    "sum_of_const": ["(sum@n I)"],
    "maxmin_of_const": ["(max@n I)", "(min@n I)"],
    "size_as_sum": ["|n|"],
}


def test_every_rule_has_templates():
    assert set(TEMPLATES) == set(ALL_RULES)


def _same_fill(template: str, draw) -> str:
    """Fill holes; a hole letter used twice gets the same subterm (a^p · a^q needs one a)."""
    chosen = {}
    pools = {"A": ANY, "B": ANY, "C": ANY, "I": IND, "Q": POS_IND, "P": EXPS, "K": INT_EXPS}
    out = []
    for tok in template.replace("(", " ( ").replace(")", " ) ").split():
        if tok in pools:
            if tok in "ABCIQ":
                if tok not in chosen:
                    chosen[tok] = draw(st.sampled_from(pools[tok]))
                out.append(chosen[tok])
            else:
                out.append(draw(st.sampled_from(pools[tok])))
        else:
            out.append(tok)
    return " ".join(out).replace("( ", "(").replace(" )", ")")


def values(seed: int, ni: int, nn: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"x": torch.randn(ni, nn, generator=g, dtype=torch.float64),
            "y": torch.randn(nn, generator=g, dtype=torch.float64),
            "z": torch.randn(ni, generator=g, dtype=torch.float64)}


def agree(lhs, rhs, env, sizes) -> None:
    """Both sides, evaluated in float64, agree wherever both are finite."""
    a = evaluate(lhs, sizes=sizes, **{k: v for k, v in env.items()})
    b = evaluate(rhs, sizes=sizes, **{k: v for k, v in env.items()})
    if rhs.axes != lhs.axes:  # same axis set, maybe another order
        from wirefuse.rewrite.ir.evaluate import evaluate_labelled
        b = evaluate_labelled(rhs, env, sizes).aligned(lhs.axes).expand_as(a) \
            if set(rhs.axes) <= set(lhs.axes) else b
    a, b = torch.broadcast_tensors(a, b)
    ok = torch.isfinite(a) & torch.isfinite(b)
    assert torch.allclose(a[ok], b[ok], rtol=1e-8, atol=1e-10), (lhs, rhs, a, b)


def _env_for(term, seed, ni, nn):
    env = values(seed, ni, nn)
    names = {t.name for t in term.walk() if hasattr(t, "name") and type(t).__name__ == "Input"}
    return {k: v for k, v in env.items() if k in names}, {"i": ni, "n": nn}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
@settings(max_examples=12, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2 ** 31), ni=st.integers(1, 3), nn=st.integers(1, 4))
def test_rule_equation(name, data, seed, ni, nn):
    template = data.draw(st.sampled_from(TEMPLATES[name]))
    lhs = parse(_same_fill(template, data.draw))
    if name != "flatten":  # flatten rewrites exactly what the canonical form removes
        lhs = canon(lhs)
    results = ALL_RULES[name].rewrite(lhs)
    assert results, f"{name} did not fire on {lhs}"
    env, sizes = _env_for(lhs, seed, ni, nn)
    for rhs, b in results:
        if name in SIDE:
            assert SIDE[name](lhs, b), (name, lhs, b)
        agree(lhs, rhs, env, sizes)


def _int(t):
    return type(t).__name__ == "Const" and float(t.value).is_integer()


def _base_exp(t):
    return (t.args[0], t.args[1]) if getattr(t, "op", None) == "pow" else (t, parse("1.0"))


# When a rule fires, its side condition holds (stated independently of the rule's code).
SIDE = {
    "pow_of_product": lambda t, b: _int(t.args[1]) or all(nonneg(a) for a in t.args[0].args),
    "pow_of_pow": lambda t, b: _int(t.args[1]) or nonneg(t.args[0].args[0]),
    "collect_powers": lambda t, b: (
        _base_exp(t.args[b["i"]])[0] is _base_exp(t.args[b["j"]])[0]
        and ((_int(_base_exp(t.args[b["i"]])[1]) and _int(_base_exp(t.args[b["j"]])[1]))
             or nonneg(_base_exp(t.args[b["i"]])[0]))),
    "sum_factor_out": lambda t, b: "n" not in t.body.args[b["i"]].axes,
    "maxmin_factor_out": lambda t, b: "n" not in t.body.args[b["i"]].axes
    and nonneg(t.body.args[b["i"]]),
    "maxmin_add_const": lambda t, b: "n" not in t.body.args[b["i"]].axes,
    "sum_of_const": lambda t, b: "n" not in t.body.axes,
    "maxmin_of_const": lambda t, b: "n" not in t.body.axes,
}


# --- side conditions: the rule does not fire when they fail --------------------------------------
@pytest.mark.parametrize("name, src, naive", [
    ("pow_of_product", "(pow (mul x[i,n] y[n]) 0.5)", "(mul (pow x[i,n] 0.5) (pow y[n] 0.5))"),
    ("pow_of_pow", "(pow (pow y[n] 2.0) 0.5)", "(pow y[n] 1.0)"),
    ("collect_powers", "(mul (pow y[n] 0.5) (pow y[n] 1.5))", "(pow y[n] 2.0)"),
    ("maxmin_factor_out", "(max@n (mul z[i] y[n]))", "(mul z[i] (max@n y[n]))"),
    ("sum_factor_out", "(sum@n (mul x[i,n] y[n]))", None),  # x[i,n] depends on n
    ("maxmin_add_const", "(max@n (add x[i,n] y[n]))", None),
    ("sum_of_const", "(sum@n y[n])", None),
])
def test_side_condition_blocks(name, src, naive):
    t = canon(parse(src))
    assert ALL_RULES[name].rewrite(t) == []
    if naive is None:
        return
    # the naive rewrite really is wrong (in value or in where it is defined): the condition matters
    env = {"x": torch.tensor([[-1.0, 2.0, -0.5, 1.0], [0.3, -2.0, 1.0, -1.0]], dtype=torch.float64),
           "y": torch.tensor([-2.0, 0.5, -1.0, 3.0], dtype=torch.float64),
           "z": torch.tensor([-1.0, 2.0], dtype=torch.float64)}
    sizes = {"i": 2, "n": 4}
    a = evaluate(t, sizes=sizes, **{k: env[k] for k in "xyz" if f"{k}[" in src})
    b = evaluate(parse(naive), sizes=sizes, **{k: env[k] for k in "xyz" if f"{k}[" in naive})
    a, b = torch.broadcast_tensors(a, b)
    ok = torch.isfinite(a) & torch.isfinite(b)
    assert (torch.isfinite(a) != torch.isfinite(b)).any() or not torch.allclose(a[ok], b[ok])


def test_pow_of_pow_fires_on_nonneg_base_only():
    assert ALL_RULES["pow_of_pow"].rewrite(parse("(pow (pow (abs y[n]) 2.0) 0.5)"))
    assert not ALL_RULES["pow_of_pow"].rewrite(parse("(pow (pow y[n] 2.0) 0.5)"))


def test_sign_analysis_is_conservative():
    for src in ["(exp y[n])", "(square y[n])", "(sum@n (abs y[n]))", "(sqrt y[n])", "|n|",
                "(mul (exp z[i]) (relu y[n]))", "(pow (abs y[n]) -0.5)", "(pow y[n] 2.0)",
                "#n", "(mul #n (exp y[n]))"]:
        t = parse(src)
        assert nonneg(t), src
        env, sizes = _env_for(t, 1, 2, 3)
        v = evaluate(t, sizes=sizes, **env)
        assert bool((v[~torch.isnan(v)] >= 0).all()), src
    for src in ["y[n]", "(sub (exp y[n]) 1.0)", "(pow y[n] 3.0)", "(log y[n])", "-1.0",
                "(sub #n #i)"]:
        assert not nonneg(parse(src)), src


# --- fuzz: every rewrite anywhere in random terms is sound where defined -------------------------
def _terms(depth):
    leaf = st.sampled_from(["x[i,n]", "y[n]", "z[i]", "|n|", "2.0", "-0.5", "3.0", "#n", "#i"])
    if depth == 0:
        return leaf
    sub = _terms(depth - 1)
    un = st.tuples(st.sampled_from(["exp", "neg", "square", "abs", "sqrt", "rsqrt", "relu"]), sub)
    bi = st.tuples(st.sampled_from(["sub", "div", "add", "mul"]), sub, sub)
    pw = st.tuples(st.just("pow"), sub, st.sampled_from(EXPS + ["1.0", "0.0"]))
    red = st.tuples(st.sampled_from(["sum@n", "max@n", "min@n"]), sub)
    return st.one_of(leaf, un.map(lambda p: f"({p[0]} {p[1]})"),
                     bi.map(lambda p: f"({p[0]} {p[1]} {p[2]})"),
                     pw.map(lambda p: f"(pow {p[1]} {p[2]})"),
                     red.map(lambda p: f"({p[0]} {p[1]})"))


@settings(max_examples=40, deadline=None)
@given(src=_terms(3), seed=st.integers(0, 2 ** 31))
def test_fuzz_every_rewrite_sound(src, seed):
    from wirefuse.search.pathfind import successors
    t = canon(parse(src))
    env, sizes = _env_for(t, seed, 2, 3)
    for name, pos, b, nt in successors(t):
        env2, _ = _env_for(nt, seed, 2, 3)
        agree(t, nt, {**env, **env2}, sizes)
