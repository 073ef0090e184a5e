"""A proof does not depend on how busy the machine is: the rule-path search ends on its bound in
expanded terms, and its clock is only a safety cap far above it."""
import time

from wirefuse.loading import load_function
from wirefuse.prover import prove
from wirefuse.rewrite import pathfind

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
