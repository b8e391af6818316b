"""The quickstarts in docs/ are built from the README's tested tour: every code
block in them is a block of the README (which tests/docs/test_readme.py runs),
and every page the index names exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
_BLOCK = re.compile(r"^([ \t]*)```(\w+)\n(.*?)^\1```", re.DOTALL | re.MULTILINE)
PAGES = sorted((DOCS / "quickstart").glob("*.md"))


def blocks(text: str) -> list[str]:
    """Fenced blocks with their indentation removed (README nests some in lists)."""
    out = []
    for m in _BLOCK.finditer(text):
        indent = m.group(1)
        lines = m.group(3).splitlines()
        out.append("\n".join(line.removeprefix(indent) for line in lines))
    return out


def test_the_index_names_a_page_per_audience() -> None:
    index = (DOCS / "quickstart.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\((quickstart/\w+\.md)\)", index))
    assert {p.relative_to(DOCS).as_posix() for p in PAGES} == named
    assert {"quickstart/backend.md", "quickstart/app.md", "quickstart/operator.md",
            "quickstart/agent.md"} <= named  # fmt: skip


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_every_block_comes_from_the_readme(page: Path) -> None:
    readme = blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    found = blocks(page.read_text(encoding="utf-8"))
    assert found, f"{page.name} shows no command"
    for block in found:
        assert block in readme, f"{page.name}: not a README block:\n{block}"
