"""The `wirefuse` command line.  Each subcommand lives in `wirefuse/commands/<name>.py` and
defines `register(subparsers)`, which adds its parser and sets `run=<function(args) -> int>`.

Exit codes: 0 success (proven, valid, written), 1 a negative answer (not proven, rejected), 2 bad
input.  A `UserError` prints one line on stderr; no traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from wirefuse.rewrite.errors import UserError

COMMANDS = ["trace", "prove", "check", "export", "explain", "show", "report", "gallery"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: one line, exit 2
        self.print_usage(sys.stderr)
        print(f"wirefuse: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="wirefuse", description="Prove attention variants streamable, "
                     "check certificates, and export fused Triton kernels to torch.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"wirefuse.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"wirefuse.commands.{name}":
                continue  # not built yet
            raise
        mod.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except UserError as e:
        print(f"wirefuse: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("wirefuse: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
