"""statemachine/*.asl.json are generated (`make statemachines`, tools/generate_statemachines.py): the committed
files must be what the generator writes, byte for byte."""

from __future__ import annotations

import json

import pytest

from tools.generate_statemachines import OUTPUT, ROOT, definitions, generated


def test_committed_state_machines_are_what_the_generator_writes() -> None:
    for path, text in generated().items():
        assert path.is_file() and path.read_text() == text, (
            f"{path.relative_to(ROOT)} is stale, or was edited by hand: change tools/generate_statemachines.py, "
            "run `make statemachines` and commit both")


@pytest.mark.parametrize("name", sorted(definitions()))
def test_the_generator_defines_what_the_committed_file_does(name: str) -> None:
    """Parsed and compared as objects, state by state: the same states, names, transitions, Retry and Catch,
    paths and comments."""
    generated = json.loads(json.dumps(definitions()[name]))
    committed = json.loads((OUTPUT / name).read_text())
    assert {key: value for key, value in generated.items() if key != "States"} == {
        key: value for key, value in committed.items() if key != "States"}
    assert sorted(generated["States"]) == sorted(committed["States"])
    for state, definition in committed["States"].items():
        assert generated["States"][state] == definition, state
