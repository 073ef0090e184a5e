"""Errors a user can cause.  Each carries one line that says what was wrong and what to do.

The CLI prints `wirefuse: error: <message>` and exits 2 for any `UserError`; it never shows a
traceback for one.
"""
from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: a file, a function, an axis spec, an option."""
    exit_code = 2

    def __init__(self, message: str):
        # One line: a multi-line message would be hard to read after "wirefuse: error:".
        super().__init__(" ".join(str(message).split()))


class TraceError(UserError):
    """The function uses something the tracer cannot turn into a term."""


class AxisSpecError(UserError):
    """The axis spec ("q: b h i d, k: b h j d") does not parse or does not fit the function."""
