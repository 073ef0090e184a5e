"""Prove and export every streamable example into tests/gpu_kernels/<name>.py (needs egglog).

The GPU machine has no egglog, so tests/test_lowering_gpu.py runs the kernels committed here.
Regenerate after a change to the generator, from a tree without others' uncommitted edits:

    .venv/bin/python tests/gpu_kernels/generate.py [NAME ...]

Examples: the streamable entries of examples/attention.py and examples/other.py.  An example
that the prover or the generator refuses is skipped with the reason printed (one line each).

The one change to export_source's text: the custom op is registered as `wirefuse_tests::NAME`
instead of `wirefuse::NAME`, because op names are process-global and bench/generated/ (loaded by
the same test file) already registers `wirefuse::softmax`, `wirefuse::causal`, ...
"""
from __future__ import annotations

import importlib.util
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SOURCES = ["attention", "other"]  # examples/<source>.py, in this order


def _examples(source):
    spec = importlib.util.spec_from_file_location(f"_gk_{source}", ROOT / "examples" / f"{source}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _renamed_op(src: str, name: str) -> str:
    old, new = f'custom_op("wirefuse::{name}"', f'custom_op("wirefuse_tests::{name}"'
    if src.count(old) != 1:  # the export template changed: say so rather than write a clash
        raise SystemExit(f"expected one {old} in the exported source of {name}; update "
                         "tests/gpu_kernels/generate.py")
    return src.replace(old, new)


def main(only: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from wirefuse.errors import UserError
    from wirefuse.kernels.export import export_source
    done, skipped = [], []
    for source in SOURCES:
        mod = _examples(source)
        for name, e in mod.EXAMPLES.items():
            if not e["streamable"] or (only and name not in only):
                continue
            t = time.time()
            try:
                src = export_source(getattr(mod, name), e["axes"], e["stream"])
            except UserError as err:  # not proven, or a form the generator does not lower
                skipped.append(name)
                print(f"skip {name}: {str(err).splitlines()[0]}")
                continue
            (HERE / f"{name}.py").write_text(_renamed_op(src, name))
            done.append(name)
            print(f"wrote tests/gpu_kernels/{name}.py ({source}) in {time.time() - t:.1f}s")
    print(f"{len(done)} exported, {len(skipped)} skipped: {', '.join(skipped) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
