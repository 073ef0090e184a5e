"""Reading what the user points at: `FILE.py:FUNC` and the einops-style axis spec.

>>> parse_axis_spec("q: b h i d, k: b h j d, mask: i j")
{'q': ('b', 'h', 'i', 'd'), 'k': ('b', 'h', 'j', 'd'), 'mask': ('i', 'j')}
>>> parse_axis_spec("b h i d, b h j d")
{0: ('b', 'h', 'i', 'd'), 1: ('b', 'h', 'j', 'd')}
"""
from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from typing import Callable

from wirefuse.rewrite.errors import AxisSpecError, UserError


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


def load_function(target: str) -> Callable:
    """`path/to/file.py:func` -> the function object."""
    path, sep, name = target.rpartition(":")
    if not sep or not path or not name:
        raise UserError(f"expected FILE.py:FUNC, got {target!r}")
    if not os.path.isfile(path):
        raise UserError(f"no such file: {path}")
    mod_name = "_wirefuse_user_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot load {path} as Python (is it a .py file?)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise UserError(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
    except Exception as e:  # the user's module failed at import time
        raise UserError(f"importing {path} failed: {type(e).__name__}: {e}") from None
    fn = getattr(module, name, None)
    if fn is None:
        have = [n for n, v in vars(module).items() if inspect.isfunction(v) and
                v.__module__ == mod_name]
        raise UserError(f"{path} has no function {name!r}; it defines: {', '.join(have) or 'none'}")
    if not callable(fn):
        raise UserError(f"{path}:{name} is not a function")
    return fn
