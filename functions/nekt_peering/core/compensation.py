"""Compensations: undo, in reverse order, what this execution created, and only that.

What an execution created is decided from what Preflight found before any change (a
peering, route or rule that existed then is never removed) and from the connection's tags
on what was created, so a stage that failed half way (a route created, the Lambda lost)
is still undone. Each step is safe to run twice and content with nothing to undo. A step
that cannot undo something records it by id under `left` and the chain goes on; the
execution then fails as RollbackFailed with that list.

The disconnect workflow runs the same steps over what the connection's tags say this product created for it
(nekt_peering.disconnect.plan), in the shape Preflight's plan gives a failed connect. Each path's steps are in
its package (ingress.revoke, peering.undo, resource_endpoint.undo); this module is what they share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nekt_peering.core.aws import error_code
from nekt_peering.core.errors import cause_message

if TYPE_CHECKING:

    from nekt_peering.core.shapes import RollbackProgress


class Rollback:
    """The compensation so far: carried from step to step in the execution's `rollback`."""

    def __init__(self, state: dict[str, Any]) -> None:
        previous = state.get("rollback") or {}
        self.undone: list[str] = list(previous.get("undone", []))
        self.left: list[str] = list(previous.get("left", []))
        self.error = state.get("error") or {}
        # A step may have to wait for AWS to delete something: the workflow waits and runs it again, at most
        # MaxPolls times for each thing it waits for (a step after one that did not wait, or a wait for something
        # else, such as the gateway once its configuration is gone, starts counting anew).
        waited = bool(previous.get("waiting"))
        self.step_polls = int(previous.get("stepPolls", 0)) if waited else 0
        self.waited_for: list[str] = list(previous.get("waitingFor") or []) if waited else []
        self.waiting_for: list[str] = []
        self.waiting = False

    def attempt(self, what: str, call: Callable[..., Any], **arguments: Any) -> None:
        """Make one undoing AWS call; a refusal is recorded as left behind and the rollback goes on."""
        try:
            call(**arguments)
        except ClientError as error:
            self.left.append(f"{what} ({error_code(error)}: {error.response['Error'].get('Message', '')})")
        else:
            self.undone.append(what)

    def could_not(self, what: str, why: str) -> None:
        self.left.append(f"{what} ({why})")

    def wait_or_leave(self, waiting_for: list[str], max_polls: int, why: str) -> None:
        """Ask the workflow to wait and run the step again while AWS is not done with `waiting_for`, at most
        `max_polls` times; then record each as left behind, `why`."""
        if not waiting_for:
            return
        if waiting_for != self.waited_for:
            self.step_polls, self.waited_for = 0, list(waiting_for)
        if self.step_polls + 1 < max_polls:
            self.waiting, self.waiting_for = True, list(waiting_for)
            self.step_polls += 1
            return
        for what in waiting_for:
            self.could_not(what, why)

    def result(self) -> RollbackProgress:
        return self._outcome() | {"waiting": self.waiting, "stepPolls": self.step_polls} | (
            {"waitingFor": self.waiting_for} if self.waiting else {})

    def _outcome(self) -> RollbackProgress:
        if not self.error:  # a disconnect: nothing failed, the removal is the point
            removed = "; ".join(self.undone) or "nothing (already disconnected)"
            cause = (f"Left behind (remove by hand): {'; '.join(self.left)}. Removed: {removed}." if self.left
                     else f"Removed: {removed}.")
            return {"undone": self.undone, "left": self.left, "complete": not self.left, "cause": cause}
        undone = "; ".join(self.undone) or "nothing had been changed"
        if self.left:
            cause = (f"{original_message(self.error)} Rollback failed, left behind (remove by hand): "
                     f"{'; '.join(self.left)}. Undone: {undone}.")
        else:
            cause = f"{original_message(self.error)} Rolled back: {undone}."
        return {"undone": self.undone, "left": self.left, "complete": not self.left, "cause": cause}


def connection_id_of(state: Mapping[str, Any]) -> str:
    """The connection a run is for, from its state (what Discover, or Find what to remove, read)."""
    return str(state["discovery"]["request"]["connectionId"])


def original_message(error: dict[str, Any]) -> str:
    """The failed stage's own message: Lambda wraps it in a JSON cause with its stack trace."""
    message = cause_message(str(error.get("Cause", "")))
    name = error.get("Error", "Error")
    return f"{name}: {message}".rstrip(" .") + "."
