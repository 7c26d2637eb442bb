"""docs/errors.md's table says what the CLI prints, for every error the workflow names."""

from __future__ import annotations

import importlib
import re
from types import ModuleType

from emulator.template import ROOT


def _errors_module() -> ModuleType:
    """nekt_peering's named errors, in core/ once functions/ is in subpackages, at the top before."""
    try:
        return importlib.import_module("nekt_peering.core.errors")
    except ModuleNotFoundError:
        return importlib.import_module("nekt_peering.errors")


def _troubleshooting_rows() -> dict[str, tuple[str, str]]:
    page = (ROOT / "docs" / "errors.md").read_text()
    section = page.split("\n## Errors the workflow names\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (.+?) \| (.+?) \|$", section, flags=re.MULTILINE)
    return {name: (meaning, todo) for name, meaning, todo in rows}


def test_every_named_error_has_a_row_and_the_cli_prints_its_what_to_do() -> None:
    errors = _errors_module()
    named = {cls.__name__ for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.ConnectError) and cls is not errors.ConnectError}
    rows = _troubleshooting_rows()

    assert set(rows) == named == set(errors.WHAT_TO_DO)
    for name, (_, todo) in rows.items():
        assert todo == errors.WHAT_TO_DO[name], f"docs/errors.md and WHAT_TO_DO disagree on {name}"
