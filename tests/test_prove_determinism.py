"""A proof does not depend on how busy the machine is: the rule-path search ends on its bound in
expanded terms, and its clock is only a safety cap far above it."""
import time

from wirefuse.loading import load_function
from wirefuse.search.prover import prove
from wirefuse.search import pathfind

AXES = "q: b h i d, k: b h j d, v: b h j e"


class _SlowClock:
    """time as seen by the path search on a machine `factor` times slower."""

    def __init__(self, factor):
        self.factor, self.t0 = factor, time.monotonic()

    def monotonic(self):
        return self.t0 + (time.monotonic() - self.t0) * self.factor


def test_a_three_times_slower_machine_finds_the_same_certificate(monkeypatch):
    fn = load_function("examples/attention.py:softcap")
    here = prove(fn, AXES, "j")
    monkeypatch.setattr(pathfind, "time", _SlowClock(3.0))
    slow = prove(fn, AXES, "j")
    assert here.streamable and slow.streamable
    assert slow.certificate == here.certificate


def test_the_serialized_egraph_reads_the_same_whatever_order_egglog_lists_it():
    """egglog's JSON lists the nodes of one e-graph in an order that varies between processes;
    extraction keeps the first of equally good e-nodes, so the reader fixes the order: the
    same e-graph listed backwards reads as the same classes, e-nodes and order, and extracts
    the same normal form."""
    import json

    from wirefuse.search.egraph import SerializedGraph
    from wirefuse.search.extract import extract_normal
    from wirefuse.search.saturate import Limits, saturate
    from wirefuse.rewrite.trace.tracer import trace
    term = trace(load_function("examples/attention.py:softmax_squared"), AXES)
    res = saturate(term, Limits(max_iters=4))
    data = json.loads(res.egraph._serialize().to_json())
    backwards = dict(data, nodes=dict(reversed(list(data["nodes"].items()))))
    g, h = SerializedGraph(data), SerializedGraph(backwards)
    assert list(g.classes.items()) == list(h.classes.items())
    assert extract_normal(g, g.root(), "j") == extract_normal(h, h.root(), "j")


def test_two_processes_prove_softmax_squared_alike():
    """Across processes (egglog's listing order, Python's hashing) the certificate is the same:
    softmax squared used to come out with 25 or 18 steps from one run to the next."""
    import subprocess
    import sys
    code = ("import hashlib, json; from wirefuse.loading import load_function; "
            "from wirefuse.search.prover import prove; "
            f"p = prove(load_function('examples/attention.py:softmax_squared'), {AXES!r}, 'j'); "
            "print(hashlib.sha256(json.dumps(p.certificate, sort_keys=True, default=str)"
            ".encode()).hexdigest())")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip() for _ in range(2)]
    assert runs[0] and runs[0] == runs[1]
