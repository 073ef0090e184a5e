"""Reading what the user points at: `FILE.py:FUNC`.

The axis spec that comes with it is parsed in the tracer's layer (rewrite/trace/axes.py);
`parse_axis_spec` and `axes_for_function` are re-exported here for callers of this module.
"""
from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from typing import Callable

from wirefuse.rewrite.errors import UserError
from wirefuse.rewrite.trace.axes import axes_for_function, parse_axis_spec

__all__ = ["load_function", "parse_axis_spec", "axes_for_function"]


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
