"""`wirefuse prove`: exit codes 0/1/2, the --json contract, -o certificates that check."""
from __future__ import annotations

import json

from wirefuse.cli import main

AXES = "q: b h i d, k: b h j d, v: b h j e"


def test_readme_command_reads_like_the_paper(capsys):
    assert main(["prove", "examples/attention.py:spherical", "--axes", AXES,
                 "--stream", "j"]) == 0
    out = capsys.readouterr().out
    assert "streamable along j" in out and "state      (o, z)" in out
    assert "tail       o / sqrt(z + 1e-06)" in out and "independent checker" in out


def test_json_is_one_object(capsys, tmp_path):
    cert = tmp_path / "c.json"
    assert main(["prove", "examples/attention.py:softmax", "--axes", AXES, "--json",
                 "-o", str(cert)]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert set(obj) == {"streamable", "reason", "certificate", "stats"}
    assert obj["streamable"] is True and obj["certificate"]["stream_axis"] == "j"
    assert set(obj["stats"]) == {"seconds", "enodes", "iterations", "limit"}
    assert main(["check", str(cert)]) == 0


def test_not_proven_exits_1_with_reason(capsys):
    assert main(["prove", "examples/attention.py:exp_after_softmax", "--axes", AXES,
                 "--json"]) == 1
    obj = json.loads(capsys.readouterr().out)
    assert obj["streamable"] is False and obj["certificate"] is None
    assert "reduction over j" in obj["reason"]


def test_limit_named(capsys):
    assert main(["prove", "examples/attention.py:softmax", "--axes", AXES, "--json",
                 "--max-nodes", "3"]) == 1
    obj = json.loads(capsys.readouterr().out)
    assert obj["stats"]["limit"] == "node limit" and "node limit" in obj["reason"]


def test_bad_input_exits_2_one_line(capsys):
    for argv in (["prove", "nope.py:f", "--axes", AXES],
                 ["prove", "examples/attention.py:spherical", "--axes", AXES, "--stream", "zz"],
                 ["prove", "examples/attention.py:spherical", "--axes", "q: b h i d"],
                 ["prove", "examples/attention.py:spherical", "--axes", AXES,
                  "--max-seconds", "-1"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("wirefuse: error:") and "\n" not in err and "Traceback" not in err
