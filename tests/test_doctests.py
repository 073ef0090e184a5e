"""Every module's docstring examples (the axioms and contracts they state) run as tests."""
import doctest
import importlib
import pkgutil

import pytest

import wirefuse

PACKAGES = ["wirefuse", "wirefuse.rewrite", "wirefuse.rules", "wirefuse.theorems",
            "wirefuse.lowering", "wirefuse.kernels"]


def _modules():
    for pkg_name in PACKAGES:
        pkg = importlib.import_module(pkg_name)
        yield pkg_name
        for info in pkgutil.iter_modules(pkg.__path__):
            if info.name != "__main__":  # running it would start the CLI
                yield f"{pkg_name}.{info.name}"


@pytest.mark.parametrize("name", sorted(set(_modules())))
def test_doctests(name):
    try:
        mod = importlib.import_module(name)
    except ImportError as e:  # optional heavy dependency (e.g. triton on a bare machine)
        pytest.skip(f"{name}: {e}")
    failures, _ = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert failures == 0
