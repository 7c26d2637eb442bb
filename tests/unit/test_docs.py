"""The documentation: the README is a short front door, docs/ builds as a site with `mkdocs build --strict`
(so that a broken link between pages fails `make test`), no link leaves the repository, and the error
table of docs/errors.md says what the CLI prints, for every error the workflow names."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.template import ROOT
from nekt_peering.connect import drift
from nekt_peering.core import errors
from nekt_peering_cli import onboarding, release

DOCS = ROOT / "docs"
README = ROOT / "README.md"
MARKDOWN = [README, *sorted(DOCS.glob("*.md"))]
README_MOST_LINES = 150


# --- the error table ----------------------------------------------------------------------------------------


def _troubleshooting_rows() -> dict[str, tuple[str, str]]:
    page = (DOCS / "errors.md").read_text()
    section = page.split("\n## Errors the workflow names\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (.+?) \| (.+?) \|$", section, flags=re.MULTILINE)
    return {name: (meaning, todo) for name, meaning, todo in rows}


def test_every_named_error_has_a_row_and_the_cli_prints_its_what_to_do() -> None:
    named = {cls.__name__ for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.ConnectError) and cls is not errors.ConnectError}
    rows = _troubleshooting_rows()

    assert set(rows) == named == set(errors.WHAT_TO_DO)
    for name, (_, todo) in rows.items():
        assert todo == errors.WHAT_TO_DO[name], f"docs/errors.md and WHAT_TO_DO disagree on {name}"


def test_every_error_of_release_and_onboarding_has_a_row() -> None:
    page = (DOCS / "errors.md").read_text()
    section = page.split("\n## Errors of release and onboarding\n", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `(\w+)` \| .+? \| .+? \|$", section, flags=re.MULTILINE))

    named = {cls.__name__ for module in (release, onboarding) for cls in vars(module).values()
             if isinstance(cls, type) and issubclass(cls, release.OperatorError) and cls is not release.OperatorError}
    assert rows == named


def test_every_drift_id_has_a_row_saying_what_to_do_as_the_code_does() -> None:
    page = (DOCS / "health.md").read_text()
    rows = re.findall(r"^\| `([a-z-]+)` \| .+? \| .+? \| (.+?) \|$", page, flags=re.MULTILINE)
    assert dict(rows) == drift.DRIFT


# --- links --------------------------------------------------------------------------------------------------

FENCED = re.compile(r"^(```|~~~).*?^\1", flags=re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
INLINE_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s|$)", flags=re.MULTILINE)
AUTOLINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]+)>")
HTML = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _prose(text: str) -> str:
    """The Markdown without its code, where a `[x](y)` is text and not a link."""
    return CODE_SPAN.sub("", FENCED.sub("", text))


def _links(path: Path) -> list[str]:
    prose = _prose(path.read_text())
    return [match for pattern in (INLINE_LINK, REFERENCE, AUTOLINK, HTML) for match in pattern.findall(prose)]


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub and mkdocs' toc make it (for the headings these pages have)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", FENCED.sub("", path.read_text()), flags=re.MULTILINE)
    return {_slug(heading) for heading in headings}


def test_the_links_are_found() -> None:
    text = ("[a](one.md) `[b](code.md)` [c](two.md#x \"title\") <https://example.com/>\n"
            "```\n[d](fenced.md)\n```\n[e]: three.md\n<a href=\"four.md\">f</a>\n")
    prose = _prose(text)
    found = [match for pattern in (INLINE_LINK, REFERENCE, AUTOLINK, HTML) for match in pattern.findall(prose)]
    assert sorted(found) == ["four.md", "https://example.com/", "one.md", "three.md", "two.md#x"]


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_link_leaves_the_repository(path: Path) -> None:
    text = path.read_text()
    assert "shared/" not in text and "/work/" not in text, f"{path.name} names a file outside the repository"
    for link in _links(path):
        if SCHEME.match(link):
            assert link.startswith(("https://", "http://", "mailto:")), f"{path.name}: {link}"
            continue
        assert not link.startswith(("/", "\\")), f"{path.name}: {link} is absolute"
        target = (path.parent / link.split("#", 1)[0]).resolve()
        assert target.is_relative_to(ROOT.resolve()), f"{path.name}: {link} leaves the repository"


def test_every_link_of_the_readme_reaches_a_file_and_a_heading() -> None:
    """mkdocs checks docs/; the README, outside it, is checked here (as GitHub resolves its links)."""
    checked = 0
    for link in _links(README):
        if SCHEME.match(link):
            continue
        file, _, anchor = link.partition("#")
        target = (README.parent / file).resolve() if file else README
        assert target.exists(), f"README.md links to {link}, which is not there"
        if anchor:
            assert anchor in _anchors(target), f"README.md links to {link}: {target.name} has no such heading"
        checked += 1
    assert checked >= len(list(DOCS.glob("*.md")))


def test_the_readme_is_a_front_door() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MOST_LINES, f"README.md has {len(lines)} lines: move the details to docs/"
    for page in sorted(DOCS.glob("*.md")):
        if page.name != "index.md":
            assert f"](docs/{page.name})" in README.read_text(), f"the README's map of the docs lacks {page.name}"


def test_the_site_s_home_is_the_readme() -> None:
    """docs/index.md is README.md with its links made relative to docs/ (copy it after changing the README)."""
    assert (DOCS / "index.md").read_text() == README.read_text().replace("](docs/", "](")


# --- the site -----------------------------------------------------------------------------------------------


def _build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


def test_the_documentation_builds_strict(tmp_path: Path) -> None:
    built = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert built.returncode == 0, built.stdout + built.stderr
    assert "WARNING" not in built.stderr
    assert (tmp_path / "site" / "errors.html").exists()


@pytest.mark.parametrize(("link", "complaint"), [
    ("no-such-page.md", "'no-such-page.md', but the target is not found"),
    ("how-it-works.md#no-such-heading", "does not contain an anchor '#no-such-heading'"),
    ("../template.yaml", "'../template.yaml', but the target is not found"),
], ids=["page", "anchor", "outside-docs"])
def test_a_broken_link_between_pages_fails_the_build(tmp_path: Path, link: str, complaint: str) -> None:
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    page = tmp_path / "docs" / "errors.md"
    page.write_text(page.read_text() + f"\nSee [this]({link}).\n")

    built = _build(tmp_path / "mkdocs.yml", tmp_path / "site")

    assert built.returncode != 0
    assert complaint in built.stderr, built.stderr
    assert "errors.md" in built.stderr


def test_a_page_left_out_of_the_nav_fails_the_build(tmp_path: Path) -> None:
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    (tmp_path / "docs" / "orphan.md").write_text("# Orphan\n")

    built = _build(tmp_path / "mkdocs.yml", tmp_path / "site")

    assert built.returncode != 0
    assert "orphan.md" in built.stderr, built.stderr
