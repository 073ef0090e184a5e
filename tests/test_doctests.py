"""Every module's docstring examples (the axioms and contracts they state) run as tests.

Every module of the package is imported: a module that fails to import fails here (no skip).
"""
import doctest
import importlib
import pkgutil

import pytest

import wirefuse


def _all_modules():
    # wirefuse's subpackages live in folders of their own (pyproject's package-dir), so walk
    # each top-level subpackage from its own __path__.
    seen = set()
    for top in ("wirefuse", "wirefuse.rewrite", "wirefuse.rules", "wirefuse.theorems",
                "wirefuse.search", "wirefuse.lowering", "wirefuse.kernels"):
        pkg = importlib.import_module(top)
        seen.add(top)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=top + "."):
            if not info.name.endswith("__main__"):  # running it would start the CLI
                seen.add(info.name)
    return sorted(seen)


MODULES = _all_modules()


def test_every_subpackage_is_walked():
    assert {"wirefuse.rewrite.ir.term", "wirefuse.search.egraph", "wirefuse.theorems.checker",
            "wirefuse.lowering.cost.model", "wirefuse.draw.diagram"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    mod = importlib.import_module(name)
    failures, _ = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert failures == 0
