"""Every stage converges when it times out after acting (Sandbox.Timedout, not retried): the connect is rolled
back to both accounts as before, and a later disconnect changes nothing (tests/e2e/convergence.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.convergence import (
    LOST,
    PATHS,
    PEERING_REMOVALS,
    REMOVALS,
    ROLLBACK,
    TIMED_OUT,
    assert_as_before,
    build_world,
    registry_shape,
)


@pytest.mark.parametrize("path", list(PATHS))
def test_a_stage_that_timed_out_after_acting_is_rolled_back(path: str, deploy: Any) -> None:
    world = build_world(path, deploy)
    forward = [stage for stage in world.path.connect if stage != "TakeLocksFunction"]  # before any change
    rollback = ROLLBACK.get(path, PEERING_REMOVALS)

    for index, connect_stage in enumerate(forward):
        # The rollback's own removals lose an answer too, one a cycle; the disconnect's time out once (a removal
        # retries any error).
        removal = rollback[index % len(rollback)]
        cycle = f"{connect_stage} timed out, {removal} lost"
        timed_out = world.lose(connect_stage, TIMED_OUT)
        world.lose(removal, LOST)
        failed = world.connect()
        assert failed.status == "FAILED" and failed.error == TIMED_OUT, f"{cycle}: {failed.cause}"
        assert len(timed_out) == 1
        assert "Rolled back:" in (failed.cause or ""), f"{cycle}: {failed.cause}"
        assert_as_before(world, cycle)
        world.clear_faults()

        assert registry_shape(world) == world.reference["registry failed"], cycle

        disconnect_stage = world.path.disconnect[index % len(world.path.disconnect)]
        cycle = f"{cycle}, then {disconnect_stage} timed out"
        world.lose(disconnect_stage, TIMED_OUT)
        disconnected = world.disconnect()
        if disconnect_stage not in REMOVALS:  # a removal retries any error; a stage's failure ends the run
            assert disconnected.status == "FAILED" and disconnected.error == TIMED_OUT, f"{cycle}: {disconnected.cause}"
            assert_as_before(world, cycle)
            disconnected = world.disconnect()
        assert disconnected.status == "SUCCEEDED", f"{cycle}: {disconnected.cause}"
        assert_as_before(world, f"{cycle}, then disconnected")
        assert registry_shape(world) == world.reference["registry disconnected"], cycle
        world.clear_faults()
