"""The validators the functions import are generated ahead of time (`make validators`): they must be
exactly what the schemas (nekt_peering.model's, and the stage event's derived from
nekt_peering.shapes) compile to today, and refuse and accept as compiling at import would."""

from __future__ import annotations

from typing import Any

import fastjsonschema
import pytest

from nekt_peering.core import model
from nekt_peering.core.validators import connect_input, stage_event
from tools.generate_validators import ROOT, generated, stage_event_schema


def test_committed_validators_are_what_the_schemas_generate() -> None:
    for path, text in generated().items():
        assert path.is_file() and path.read_text() == text, (
            f"{path.relative_to(ROOT)} is stale: run `make validators` and commit it")


@pytest.mark.parametrize(("schema", "validate", "value"), [
    (model.CONNECT_INPUT_SCHEMA, connect_input.validate, {"database": {"identifier": "orders-db"}}),
    (model.CONNECT_INPUT_SCHEMA, connect_input.validate, {"database": {"identifier": "-x"}}),
    (model.CONNECT_INPUT_SCHEMA, connect_input.validate, {"database": {}, "extra": 1}),
    (stage_event_schema(), stage_event.validate, {"plan": {"ingress": [{"groupId": "sg-1", "port": 0}]}}),
    (stage_event_schema(), stage_event.validate, {"routes": [{"routeTableId": "rtb-0123456789abcdef0",
                                                              "destinationCidr": "10.0.0.0/8", "side": "nekt"}]}),
])
def test_a_generated_validator_decides_as_the_compiled_schema(schema: dict[str, Any], validate: Any,
                                                              value: Any) -> None:
    def outcome(check: Any) -> str:
        try:
            check(value)
        except fastjsonschema.JsonSchemaValueException as error:
            return error.message
        return "valid"

    assert outcome(validate) == outcome(fastjsonschema.compile(schema))
