"""The README's troubleshooting table says what the CLI prints, for every error the workflow names."""

from __future__ import annotations

import re

from emulator.template import ROOT
from nekt_peering import errors


def _troubleshooting_rows() -> dict[str, tuple[str, str]]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Errors and what to do\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (.+?) \| (.+?) \|$", section, flags=re.MULTILINE)
    return {name: (meaning, todo) for name, meaning, todo in rows}


def test_every_named_error_has_a_row_and_the_cli_prints_its_what_to_do() -> None:
    named = {cls.__name__ for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.ConnectError) and cls is not errors.ConnectError}
    rows = _troubleshooting_rows()

    assert set(rows) == named == set(errors.WHAT_TO_DO)
    for name, (_, todo) in rows.items():
        assert todo == errors.WHAT_TO_DO[name], f"README and WHAT_TO_DO disagree on {name}"
