"""The term language: named-axis string diagrams as terms, their evaluator, printer and parser."""
from .term import (Broadcast, Const, Elem, Input, Layout, Opaque, Pos, Reduce, Rename, Size,
                   State, Term, TermError, contract, lift)
from .sexpr import parse, to_sexpr
from .evaluate import evaluate, EvalError
from .serialize import term_from_json, term_to_json

__all__ = ["Broadcast", "Const", "Elem", "Input", "Layout", "Opaque", "Pos", "Reduce", "Rename",
           "Size", "State", "Term", "TermError", "contract", "lift", "parse", "to_sexpr", "evaluate",
           "EvalError", "term_from_json", "term_to_json"]
