"""The docs as pages: every relative link resolves (file and heading), every ``make <target>`` they
mention is a Makefile target, and each page under docs/ starts by saying who it is for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.docs.doc_commands import FENCE, all_commands, doc_files

PAGES = [path for path in doc_files() if path.parent.name == "docs"]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _prose(path: Path) -> str:
    """The file with its fenced blocks blanked (links inside code are not links)."""
    out, fenced = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        opening = FENCE.match(line)
        if fenced is None and opening:
            fenced = opening.group(2)
            out.append("")
        elif fenced is not None:
            fenced = None if line.strip().startswith(fenced) else fenced
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", _prose(path), re.M)}


LINKS = [
    pytest.param(path, target, id=f"{path.relative_to(PROJECT_ROOT)}:{target}")
    for path in doc_files()
    for target in LINK.findall(_prose(path))
    if not re.match(r"[a-z]+:", target)
]


def test_the_docs_have_links_to_check():
    assert len(LINKS) > 20


@pytest.mark.parametrize(("path", "target"), LINKS)
def test_relative_link_resolves_to_a_file_and_heading(path, target):
    name, _, anchor = target.partition("#")
    linked = (path.parent / name).resolve() if name else path
    assert linked.exists(), f"{path.name} links to {target}, which does not exist"
    assert linked.is_relative_to(PROJECT_ROOT), f"{path.name} links out of the repository: {target}"
    if anchor and linked.suffix == ".md":
        assert anchor in anchors(linked), f"{path.name} links to {target}: no such heading in {linked.name}"


def makefile_targets() -> set[str]:
    text = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][\w-]*):(?!=)", text, re.M))


MAKE_TARGET = re.compile(r"(?:^|[;&|(]\s*|\s)make\s+(?:(?:-\w+|[A-Z_]+=\S+)\s+)*([a-z][\w-]*)")
MENTIONS = sorted({(c.doc, c.line, target) for c in all_commands() for target in MAKE_TARGET.findall(" " + c.command)})


def test_make_targets_are_found():
    assert {"run", "test", "bench", "airflow"} <= {target for _, _, target in MENTIONS}


@pytest.mark.parametrize(("doc", "line", "target"), [pytest.param(*m, id=f"{m[0]}:{m[1]}:{m[2]}") for m in MENTIONS])
def test_every_make_target_the_docs_mention_exists(doc, line, target):
    assert target in makefile_targets(), f"{doc}:{line}: make {target}, but the Makefile has no target {target}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_each_page_starts_with_who_it_is_for(page):
    """Issue 27: the pages read well on their own. Under the title, the first line says who the
    page is for ("For people who ...")."""
    lines = [line for line in page.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert lines[0].startswith("# "), f"{page.name} starts without a title"
    assert lines[1].startswith("For "), f"{page.name}: the line under the title should say who it is for: {lines[1]!r}"
