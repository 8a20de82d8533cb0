"""The project stands alone: nothing cites a file outside the repository."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = ("shared/", "cloudapi-reference", "../shared")


def test_no_citation_of_files_outside_the_repository():
    cited = []
    for folder in ("helpers", "notebooks", "docs", "bench", "customers", "voila"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in (".py", ".md", ".ipynb", ".yaml", ".html", ".txt") or "spec" in path.parts[-2:-1]:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            cited += [f"{path.relative_to(ROOT)}: {needle}" for needle in OUTSIDE if needle in text]
    for name in ("README.md", "Makefile", "requirements.txt", "requirements-dev.txt"):
        text = (ROOT / name).read_text(encoding="utf-8")
        cited += [f"{name}: {needle}" for needle in OUTSIDE if needle in text]
    assert not cited, cited
