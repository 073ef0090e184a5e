"""The bottom layer: the term language (`ir`), the tracer from PyTorch (`trace`) and the errors a
user can hit (`errors`)."""
from wirefuse.rewrite.ir.term import (Broadcast, Const, Elem, Input, Layout, Opaque, Pos, Reduce,
                                      Rename, Size, State, Term, TermError, contract, lift)
from wirefuse.rewrite.ir.sexpr import parse, to_sexpr
from wirefuse.rewrite.ir.evaluate import evaluate, EvalError
from wirefuse.rewrite.ir.serialize import term_from_json, term_to_json

__all__ = ["Broadcast", "Const", "Elem", "Input", "Layout", "Opaque", "Pos", "Reduce", "Rename",
           "Size", "State", "Term", "TermError", "contract", "lift", "parse", "to_sexpr", "evaluate",
           "EvalError", "term_from_json", "term_to_json"]
