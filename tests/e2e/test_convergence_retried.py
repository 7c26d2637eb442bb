"""Every stage converges when Lambda loses its answer and the ASL retries it (Lambda.ServiceException): the
connect ends as a plain one, a later disconnect leaves both accounts as before (tests/e2e/convergence.py)."""

from __future__ import annotations

from itertools import zip_longest
from typing import Any

import pytest

from tests.e2e.convergence import (
    LOST,
    PATHS,
    assert_as_before,
    build_world,
    normalized,
    refuse,
    registry_shape,
)


@pytest.mark.parametrize("path", list(PATHS))
def test_a_stage_whose_answer_was_lost_is_retried_and_ends_as_a_plain_run(path: str, deploy: Any) -> None:
    world = build_world(path, deploy)

    for connect_stage, disconnect_stage in zip_longest(world.path.connect, world.path.disconnect):
        cycle = f"{connect_stage} lost, then {disconnect_stage} lost"
        lost_in_connect = world.lose(connect_stage, LOST) if connect_stage else []
        connected = world.connect()
        assert connected.status == "SUCCEEDED", f"{cycle}: {connected.cause}"
        assert len(lost_in_connect) == (1 if connect_stage else 0), f"{cycle}: the fault never fired"
        assert normalized(world, world.snapshot()) == world.reference["connected"], cycle
        assert registry_shape(world) == world.reference["registry connected"], cycle
        world.clear_faults()

        lost_in_disconnect = world.lose(disconnect_stage, LOST) if disconnect_stage else []
        disconnected = world.disconnect()
        assert disconnected.status == "SUCCEEDED", f"{cycle}: {disconnected.cause}"
        assert len(lost_in_disconnect) == (1 if disconnect_stage else 0), f"{cycle}: the fault never fired"
        assert_as_before(world, cycle)
        assert registry_shape(world) == world.reference["registry disconnected"], cycle
        world.clear_faults()




@pytest.mark.parametrize("path", list(PATHS))
def test_what_retried_stages_made_is_rolled_back_when_a_later_stage_fails(path: str, deploy: Any) -> None:
    world = build_world(path, deploy)
    for stage in world.path.connect:
        if stage != "RecordConnectionFunction":
            world.lose(stage, LOST)
    world.stack.runtime.before_invoke("VerifyFunction", refuse)

    failed = world.connect()

    assert failed.status == "FAILED" and failed.error == "InjectedFault", failed.cause
    assert "Rolled back:" in (failed.cause or ""), failed.cause
    assert_as_before(world, "every answer lost, then Verify failed")
    assert registry_shape(world) == world.reference["registry failed"]
