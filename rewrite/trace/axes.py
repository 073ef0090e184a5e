"""The einops-style axis spec of a traced function: which named axes each tensor argument has.

The tracer (rewrite/trace/tracer.py) reads it to name the dimensions of its symbolic inputs;
the CLI passes `--axes` through unchanged.

>>> parse_axis_spec("q: b h i d, k: b h j d, mask: i j")
{'q': ('b', 'h', 'i', 'd'), 'k': ('b', 'h', 'j', 'd'), 'mask': ('i', 'j')}
>>> parse_axis_spec("b h i d, b h j d")
{0: ('b', 'h', 'i', 'd'), 1: ('b', 'h', 'j', 'd')}
>>> def attend(q, k, scale=1.0): ...
>>> axes_for_function(attend, "b i d, b j d")     # arguments with defaults are trace constants
{'q': ('b', 'i', 'd'), 'k': ('b', 'j', 'd')}
"""
from __future__ import annotations

import inspect
from typing import Callable

from wirefuse.rewrite.errors import AxisSpecError, UserError

__all__ = ["parse_axis_spec", "axes_for_function"]


def parse_axis_spec(spec: str) -> dict:
    """Entries are `name: axes` or, positionally, just `axes`; separated by commas or semicolons."""
    if not isinstance(spec, str) or not spec.strip():
        raise AxisSpecError("empty axis spec: give one entry per argument, e.g. "
                            "--axes \"q: b h i d, k: b h j d, v: b h j e\"")
    out: dict = {}
    entries = [e.strip() for e in spec.replace(";", ",").split(",")]
    for pos, entry in enumerate(entries):
        if not entry:
            raise AxisSpecError(f"empty entry {pos + 1} in axis spec {spec!r}")
        if ":" in entry:
            name, _, axes_s = entry.partition(":")
            name = name.strip()
            if not name.isidentifier():
                raise AxisSpecError(f"{name!r} in axis spec is not an argument name")
            key = name
        else:
            key, axes_s = pos, entry
        axes = tuple(axes_s.split())
        for a in axes:
            if not a.isidentifier():
                raise AxisSpecError(f"axis name {a!r} in entry {entry!r} is not an identifier"
                                    " (use letters, digits, underscores)")
        if len(set(axes)) != len(axes):
            raise AxisSpecError(f"entry {entry!r} names an axis twice; give each dimension its"
                                " own name")
        if key in out:
            raise AxisSpecError(f"argument {key!r} appears twice in the axis spec")
        out[key] = axes
    if any(isinstance(k, int) for k in out) and any(isinstance(k, str) for k in out):
        raise AxisSpecError("mix of named and positional entries in the axis spec: name all"
                            " of them (\"q: b h i d, ...\") or none")
    return out


def axes_for_function(fn: Callable, spec) -> dict[str, tuple[str, ...]]:
    """Match the spec to the function's positional parameters, in order."""
    parsed = parse_axis_spec(spec) if isinstance(spec, str) else dict(spec)
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.default is inspect.Parameter.empty]
    except (TypeError, ValueError):
        raise UserError(f"cannot read the parameters of {fn!r}; pass a plain Python function")
    if parsed and all(isinstance(k, int) for k in parsed):
        if len(parsed) != len(params):
            raise AxisSpecError(f"the axis spec has {len(parsed)} entries but {fn.__name__} takes "
                                f"{len(params)} tensor arguments ({', '.join(params)})")
        return {p: parsed[i] for i, p in enumerate(params)}
    missing = [p for p in params if p not in parsed]
    extra = [k for k in parsed if k not in params]
    if extra:
        raise AxisSpecError(f"axis spec names {', '.join(map(str, extra))}, which "
                            f"{fn.__name__} does not take (it takes {', '.join(params)})")
    if missing:
        raise AxisSpecError(f"axis spec gives no axes for {', '.join(missing)}; add e.g. "
                            f"\"{missing[0]}: b h j d\"")
    return {p: parsed[p] for p in params}
