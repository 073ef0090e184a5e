"""`prove`: is a function streamable along an axis?  Search in egglog, proof checked on its own.

    trace (if a function) → saturate (search.saturate) → extract the best stream normal form
    (search.extract) → find replayable rule steps to it (search.pathfind) → certificate
    (theorems.certificate) → independent check (theorems.checker) → Proof

A proof is reported only when the checker accepts the certificate; the e-graph is a search
engine, never a witness.  Every other outcome is "not proven" with a reason a person can read:

- the e-graph saturated and no term in the class is in stream normal form: the reason is
  `decompose`'s, on the smallest equal term (a reduction over n left inside a body over n, or an
  opaque op such as a median, with why it is not a fold);
- a limit was hit first ("iteration limit", "node limit", "time limit"): said so, no guess;
- the path finder or the checker did not confirm the candidate: their reason.

Nothing here knows any attention variant: the outcome follows from the rules alone.

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> p = prove(parse("(sum@j (mul (div (exp s[i,j]) (sum@j (exp s[i,j]))) v[j,e]))"), stream="j")
>>> p.streamable, sorted(c.name for c in p.stream_form.components)
(True, ['o', 'z'])
>>> q = prove(parse("(sum@j (mul (exp (div s[i,j] (sum@j s[i,j]))) v[j,e]))"), stream="j")
>>> q.streamable, q.reason.startswith("not proven")
(False, True)
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from wirefuse.rewrite.errors import UserError
from wirefuse.search.egraph import SerializedGraph, axes_universe
from wirefuse.search.extract import extract_normal, extract_smallest
from wirefuse.search.saturate import Limits, Saturation, Saturator
from wirefuse.rewrite.ir.term import Term
from wirefuse.theorems.stream import NotNormal, StreamForm, decompose

__all__ = ["prove", "Proof", "Limits"]


@dataclass
class Proof:
    streamable: bool
    reason: str
    certificate: dict | None = None
    stats: dict = field(default_factory=dict)
    stream_form: StreamForm | None = None
    term: Term | None = None
    normal_form: Term | None = None   # the candidate the e-graph extracted (None if none)

    def __bool__(self):
        return self.streamable

    def to_json(self) -> dict:
        """The `wirefuse prove --json` object."""
        keys = ("seconds", "enodes", "iterations", "limit")
        return {"streamable": self.streamable, "reason": self.reason,
                "certificate": self.certificate,
                "stats": {k: self.stats.get(k) for k in keys}}


def _is_panic(e: BaseException) -> bool:
    # egglog's Rust panics arrive as PanicException, a BaseException: catch it by name only.
    return type(e).__name__ in ("PanicException", "EggSmolError")


def _candidate(sat: Saturation, axis: str) -> tuple[Term, StreamForm] | None:
    return _candidate_in(sat.graph(), axis)


def _candidate_in(g: SerializedGraph, axis: str) -> tuple[Term, StreamForm] | None:
    found = extract_normal(g, g.root(), axis)
    if found is None:
        return None
    nf, _ = found
    try:
        return nf, decompose(nf, axis)
    except NotNormal:
        return None  # the extractor's cost is a heuristic; decompose is the judge


def _best(found):
    """Fewest state components, then the smallest term."""
    if not found:
        return None
    return min(found, key=lambda c: (len(c[1].components), c[0].size()))


def _refusal(sat: Saturation, axis: str, term: Term) -> str:
    g = sat.graph()
    best = extract_smallest(g, g.root())
    try:
        decompose(best, axis)
        why = "no stream normal form was extracted"
    except NotNormal as e:
        why = str(e)
    return why


def prove(fn_or_term, axes=None, stream: str = "j", limits: Limits | None = None,
          path_seconds: float = 30.0) -> Proof:
    """Prove `fn_or_term` streamable along `stream`, or say why not (see the module docstring).

    `fn_or_term`: a Term, or a PyTorch function traced with `axes` (an axis spec such as
    "q: b h i d, k: b h j d, v: b h j e", or a dict).  `limits`: search.saturate.Limits.
    `path_seconds`: only a safety cap on the rule-path search; its bound in expanded terms
    (pathfind.MAX_STEPS) is what ends it, so a busy machine runs the same search (softcap's
    takes about 3.3 s on 2 idle cores, above the 3 s the clock used to allow)."""
    from wirefuse.search.pathfind import MAX_STEPS, find_path

    limits = limits or Limits()
    t0 = time.monotonic()
    if isinstance(fn_or_term, Term):
        term = fn_or_term
    else:
        if axes is None:
            raise UserError("give the axes of the function's arguments, e.g. "
                            "axes=\"q: b h i d, k: b h j d, v: b h j e\"")
        from wirefuse.rewrite.trace.tracer import trace
        term = trace(fn_or_term, axes)
    if not isinstance(stream, str) or not stream.isidentifier():
        raise UserError(f"the stream axis must be an axis name, got {stream!r}")
    if stream not in axes_universe(term):
        raise UserError(f"the function has no axis {stream!r} (its axes: "
                        f"{', '.join(axes_universe(term))}); pick one with --stream")

    stats: dict = {}

    def done(streamable, reason, **kw) -> Proof:
        stats["seconds"] = round(time.monotonic() - t0, 4)
        return Proof(streamable, reason, stats=stats, term=term, **kw)

    try:
        decompose(term, stream)
        as_written = True
    except NotNormal:
        as_written = False
    if as_written:
        # Already in stream normal form: the term is its own witness (an empty proof path), and
        # the kernel is lowered from the form as written.  A search would only rewrite it into an
        # equal form that reads worse (spherical's 1/sqrt|d| became rsqrt in one component only).
        stats.update({"enodes": 0, "iterations": 0, "limit": "not searched: already in "
                      "stream normal form", "steps": 0})
        return _certified(term, stream, [], done, nf=term)

    try:
        sat = Saturator(term, limits)
        found: list = []

        def goal(egraph) -> bool:
            # Stop a few iterations after the first normal form: later ones may need fewer
            # state components (fewer is better: smaller state, less traffic).
            c = _candidate_in(SerializedGraph.of(egraph), stream)
            if c is not None:
                found.append(c)
            return len(found) >= 3 or (bool(found) and len(c[1].components) <= 1) \
                if c is not None else bool(found) and len(found) >= 3
        res = sat.run("base", until=goal)
        cand = _best(found) or _candidate(res, stream)
        if cand is None and not res.limit_hit:
            # distributivity grows the e-graph fast: take the first normal form it gives
            res = sat.run("expand", until=lambda eg: goal(eg) or bool(found))
            cand = _best(found) or _candidate(res, stream)
    except BaseException as e:  # noqa: B036  (egglog panics are BaseExceptions)
        if not _is_panic(e):
            raise
        stats.update({"enodes": None, "iterations": None, "limit": "egglog error"})
        return done(False, f"not proven: the e-graph engine failed ({type(e).__name__}: "
                    f"{str(e).splitlines()[0] if str(e) else ''})")
    if cand is None:
        # The extractor minimises state: a class whose best member needs no state at all
        # (max_j x[i] = x[i]) has no k ≥ 1 member it would choose, though the term itself may be
        # in normal form.  The term is a candidate too.
        try:
            cand = (term, decompose(term, stream))
        except NotNormal:
            pass
    stats.update(res.stats())
    stats["saturation_seconds"] = stats.pop("seconds")
    stats["stage"] = res.stage
    if cand is None:
        if res.limit_hit:
            return done(False, f"not proven: the saturation hit its {res.status} "
                        f"({res.enodes} e-nodes, {res.iterations} iterations, "
                        f"{res.seconds:.2f} s) before any equal term was in stream normal form "
                        f"along {stream} (raise the limits to search further); the smallest "
                        f"equal term found: {_refusal(res, stream, term)}")
        return done(False, f"not proven: no term equal to it is in stream normal form along "
                    f"{stream} (the rules saturated): {_refusal(res, stream, term)}")
    nf, _ = cand
    steps = find_path(term, stream, target=nf, max_seconds=path_seconds)
    if steps is None:
        return done(False, f"not proven: the e-graph found the normal form {nf}, but no "
                    f"replayable rule path to a normal form was found within the search's "
                    f"bound ({MAX_STEPS} terms expanded, {path_seconds:g} s at most)",
                    normal_form=nf)
    stats["steps"] = len(steps)
    return _certified(term, stream, steps, done, nf=nf)


def _certified(term: Term, stream: str, steps, done, nf: Term) -> Proof:
    """The certificate of `steps` from `term`, replayed by the independent checker: a Proof only
    if it accepts."""
    from wirefuse.theorems.checker import check_certificate
    from wirefuse.theorems.certificate import make_certificate, stream_form_of
    try:
        cert = make_certificate(term, stream, steps)
    except NotNormal as e:
        return done(False, f"not proven: the proof path does not end in normal form ({e})",
                    normal_form=nf)
    verdict = check_certificate(cert)
    if not verdict.ok:
        where = f" (step {verdict.failed_step})" if verdict.failed_step is not None else ""
        return done(False, f"not proven: the checker rejected the certificate{where}: "
                    f"{verdict.reason}", normal_form=nf)
    return done(True, f"proven: streamable along {stream}; {verdict.reason}",
                certificate=cert, stream_form=stream_form_of(cert), normal_form=nf)
