"""The repository speaks of itself alone: no tracked source or document cites notes that live
outside it, and every `docs/theory.md §N` citation names a section that docs/theory.md has."""
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Names of files outside the repository, and references to its history outside it.
OUTSIDE = re.compile(r"\.\./shared|THEORY\.md|NOTES\.md|DESIGN\.md|KINDS\.md|seed 00|issue #")
CITE = re.compile(r"docs/theory\.md §(\d+)((?:\s*(?:,|and|&)\s*§?\d+)*)")


def _tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "*.py", "*.md", "*.toml"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / p for p in out if not p.startswith(".ci/")]


def _sections() -> set[str]:
    text = (ROOT / "docs" / "theory.md").read_text(encoding="utf-8")
    return set(re.findall(r"^## §(\d+) ", text, flags=re.M))


def test_the_file_list_is_real():
    files = {p.relative_to(ROOT).as_posix() for p in _tracked()}
    assert {"README.md", "docs/theory.md", "theorems/stream.py", "pyproject.toml"} <= files


def test_no_tracked_file_cites_outside_notes():
    hits = []
    for p in _tracked():
        for k, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if p.name == "test_self_contained.py":
                continue
            if OUTSIDE.search(line):
                hits.append(f"{p.relative_to(ROOT)}:{k}: {line.strip()[:100]}")
    assert not hits, "cite docs/theory.md §N, a file in the repo or a paper instead:\n" + \
        "\n".join(hits)


def test_theory_sections_are_numbered_in_order():
    nums = sorted(int(n) for n in _sections())
    assert nums == list(range(1, len(nums) + 1)) and len(nums) >= 10


def test_every_theory_citation_names_a_section():
    have, bad, seen = _sections(), [], 0
    for p in _tracked():
        for k, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for m in CITE.finditer(line):
                seen += 1
                for n in [m.group(1)] + re.findall(r"\d+", m.group(2)):
                    if n not in have:
                        bad.append(f"{p.relative_to(ROOT)}:{k}: §{n}")
    assert seen >= 10  # the code does cite the theory; a broken pattern would find nothing
    assert not bad, "no such section in docs/theory.md:\n" + "\n".join(bad)
