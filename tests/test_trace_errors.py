"""What the tracer refuses, and how: one line naming the operation and the user's file:line,
a TraceError (unsupported code) or an AxisSpecError (the spec does not fit the code); through the
CLI, that line on stderr and exit code 2."""
import inspect
import os
import textwrap

import pytest
import torch
import torch.nn.functional as F

from wirefuse import AxisSpecError, TraceError, trace
from wirefuse.cli import main

HERE = os.path.basename(__file__)


def _line_of(fn, text):
    src, start = inspect.getsourcelines(fn)
    return start + next(i for i, l in enumerate(src) if text in l)


def _raises(cls, fn, axes, *fragments):
    with pytest.raises(cls) as info:
        trace(fn, axes)
    msg = str(info.value)
    assert "\n" not in msg
    for f in fragments:
        assert f in msg, msg
    return msg


def gelu_attn(q, k):
    s = q @ k.mT
    return F.gelu(s)


def test_unsupported_function_names_op_and_line():
    msg = _raises(TraceError, gelu_attn, "q: i d, k: j d",
                  "torch.nn.functional.gelu is not supported by the tracer", "supported:")
    assert msg.startswith(f"{HERE}:{_line_of(gelu_attn, 'F.gelu')}: ")


def reshaped(q):
    return q.reshape(-1)


def test_unsupported_method_with_hint():
    msg = _raises(TraceError, reshaped, "q: i d", "Tensor.reshape", "named axes")
    assert msg.startswith(f"{HERE}:{_line_of(reshaped, 'q.reshape')}: ")


def branchy(q, k):
    s = q @ k.mT
    if s.sum() > 0:
        return s
    return -s


def test_data_dependent_control_flow():
    msg = _raises(TraceError, branchy, "q: i d, k: j d", "control flow")
    assert msg.startswith(f"{HERE}:{_line_of(branchy, 'if s.sum()')}: ")


@pytest.mark.parametrize("fn, fragment", [
    (lambda x: (x, x), "returns 2 values"),
    (lambda x: x.max(-1).indices + 1, "indices of max"),
    (lambda x: x.max(-1)[1] * 2, "indices of max"),
    (lambda x: torch.sort(x, -1)[1] * 2, "indices of sort"),
    (lambda x: x[0], "indexing with 0"),
    (lambda x: x[:, 1:], "indexing with slice"),
    (lambda x: x // 2, "integer division"),
    (lambda x: x.topk(2, dim=-1).values, "topk values are supported only one entry"),
    (lambda x: x.topk(2, dim=-1).values.sum(-1), "topk values are supported only one entry"),
    (lambda x: x.topk(2, dim=-1).values[..., :2], "topk values are supported only one entry"),
    (lambda x: x.float().long(), "truncation"),
    (lambda x: x.view(2, -1), "Tensor.view"),
    (lambda x: torch.einsum("ii->i", x), "diagonal"),
    (lambda x: torch.median(x), "give dim="),
    (lambda x: x.sum(-1, keepdim=True).squeeze(), "squeeze() without dim"),
    (lambda x: x.squeeze(0), "not known to have size 1"),
    (lambda x: x.softmax(-1).argmax(-1), "argmax"),
])
def test_unsupported_forms(fn, fragment):
    _raises(TraceError, fn, "x: i j", fragment)


@pytest.mark.parametrize("fn, axes, fragment", [
    (lambda q, k: q @ k.mT, "q: i d, k: j e", "contracts axis d of the left operand with axis e"),
    (lambda q, k: q + k, "q: i d, k: j d", "lines up axis i of one operand with axis j"),
    (lambda q: q.transpose(-3, -1), "q: i d", "dimension -3 is out of range"),
    (lambda q: q.softmax(dim=2), "q: i d", "out of range"),
    (lambda q: torch.einsum("ij,jk->ik", q, q), "q: i d", "index j is axis d in one operand"),
    (lambda q, k: q @ k, "q: i d", "no axes for k"),
    (lambda q: q, "q: i d, k: j d", "does not take"),
    (lambda q: q, "q: i i", "names an axis twice"),
    (lambda q: q, "", "empty axis spec"),
    (lambda q: q.permute(0, 0), "q: i d", "not a permutation"),
])
def test_axis_spec_errors(fn, axes, fragment):
    _raises(AxisSpecError, fn, axes, fragment)


def _cli(capsys, *argv):
    rc = main(list(argv))
    err = capsys.readouterr().err
    return rc, err


def test_cli_unsupported_code(tmp_path, capsys):
    f = tmp_path / "bad.py"
    f.write_text(textwrap.dedent("""\
        import torch.nn.functional as F

        def attn(q, k, v):
            return F.gelu(q @ k.mT) @ v
        """))
    rc, err = _cli(capsys, "trace", f"{f}:attn", "--axes", "q: i d, k: j d, v: j e")
    assert rc == 2
    assert err.count("\n") == 1
    assert err.startswith("wirefuse: error: bad.py:4: torch.nn.functional.gelu is not supported")


@pytest.mark.parametrize("argv, fragment", [
    (["examples/attention.py:softmax", "--axes", "q: b h i d, k: b h j e, v: b h j e"],
     "contracts axis d"),
    (["examples/attention.py:softmax", "--axes", "q: b h i d"], "no axes for k"),
    (["examples/attention.py:nothing", "--axes", "q: i d"], "has no function 'nothing'"),
    (["no/such/file.py:f", "--axes", "q: i d"], "no such file"),
])
def test_cli_one_line_errors(argv, fragment, capsys):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    argv = [os.path.join(root, argv[0]) if argv[0].startswith("examples") else argv[0]] + argv[1:]
    rc, err = _cli(capsys, "trace", *argv)
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("wirefuse: error: ")
    assert fragment in err


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["trace", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--axes" in out and "--json" in out and "FILE.py:FUNC" in out
