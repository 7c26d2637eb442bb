"""Runs each Lambda task's real handler in process, in place of moto's docker-less Lambda.

moto's `awslambda_simple` backend only echoes its payload; this replaces its `invoke` so a
task runs the handler template.yaml names, with the response or error shape Lambda gives
(an error's type becomes the Step Functions error name, its payload the cause).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend

from emulator.strict.layer import acting_as

Hook = Callable[[dict[str, Any]], None]
AfterHook = Callable[[dict[str, Any], Any], None]


@dataclass
class LambdaContext:
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class Invocation:
    logical_id: str
    event: dict[str, Any]
    result: Any = None
    error: str | None = None


def _project_frames(error: BaseException) -> list[str]:
    """The stack as Lambda reports it, kept to this repo's frames and without line numbers or
    source, so a recorded cause reads the same on every machine and Python version."""
    root = Path(__file__).resolve().parent.parent
    frames = []
    for frame in traceback.extract_tb(error.__traceback__):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(root):
            frames.append(f'File "{path.relative_to(root)}", in {frame.name}')
    return frames


def load_handler(handler_path: str) -> Callable[[dict[str, Any], Any], Any]:
    """'nekt_peering.handlers.discover.discover' -> the function, as the Lambda runtime resolves Handler."""
    module_name, _, attribute = handler_path.rpartition(".")
    handler: Callable[[dict[str, Any], Any], Any] = getattr(importlib.import_module(module_name), attribute)
    return handler


class _FunctionEnvironment(MutableMapping[str, str]):
    """os.environ, with the environment of the function whose handler runs on this thread on top: each
    function sees the variables template.yaml gives it, and no other's, though executions run
    concurrently in threads. Writes go to the process's own environment."""

    def __init__(self, process: MutableMapping[str, str]) -> None:
        self.process = process
        self._local = threading.local()

    @contextmanager
    def of_function(self, variables: dict[str, str]) -> Iterator[None]:
        previous = getattr(self._local, "variables", None)
        self._local.variables = variables
        try:
            yield
        finally:
            self._local.variables = previous

    def _overlay(self) -> dict[str, str]:
        return getattr(self._local, "variables", None) or {}

    def __getitem__(self, key: str) -> str:
        overlay = self._overlay()
        return overlay[key] if key in overlay else self.process[key]

    def __setitem__(self, key: str, value: str) -> None:
        self.process[key] = value

    def __delitem__(self, key: str) -> None:
        del self.process[key]

    def __iter__(self) -> Iterator[str]:
        return iter({**self.process, **self._overlay()})

    def __len__(self) -> int:
        return len({**self.process, **self._overlay()})

    def copy(self) -> dict[str, str]:
        return dict(self)


if not isinstance(os.environ, _FunctionEnvironment):
    os.environ = _FunctionEnvironment(os.environ)  # type: ignore[assignment]  # noqa: B003 - an overlay, on purpose
FUNCTION_ENVIRONMENT: _FunctionEnvironment = os.environ  # type: ignore[assignment]


class LambdaRuntime:
    def __init__(self, code_dir: Path) -> None:
        if str(code_dir) not in sys.path:
            sys.path.insert(0, str(code_dir))
        self._functions: dict[str, tuple[str, str, str, str | None]] = {}
        self._environments: dict[str, dict[str, str]] = {}
        self.invocations: list[Invocation] = []
        self.before: dict[str, list[Hook]] = {}
        self.after: dict[str, list[AfterHook]] = {}
        self._lock = threading.Lock()
        # Step Functions may run a task twice (a retry after a lost response): repeat = 2 does so always.
        self.repeat = 1
        self._original: Any = None

    def register(self, logical_id: str, name: str, arn: str, handler: str, role_arn: str | None = None,
                 environment: dict[str, str] | None = None) -> None:
        """`role_arn`: the function's execution role, whose credentials its AWS calls carry; `environment`:
        the variables template.yaml gives it (set once the stack is deployed, with set_environment)."""
        self._functions[name] = self._functions[arn] = (logical_id, arn, handler, role_arn)
        self._environments[logical_id] = environment or {}

    def set_environment(self, logical_id: str, environment: dict[str, str]) -> None:
        self._environments[logical_id] = environment

    def before_invoke(self, logical_id: str, hook: Hook) -> None:
        """Run `hook(event)` before the handler: to inject slow or failing AWS states, or faults."""
        self.before.setdefault(logical_id, []).append(hook)

    def after_invoke(self, logical_id: str, hook: AfterHook) -> None:
        """Run `hook(event, result)` after the handler succeeded: AWS moving on after a call."""
        self.after.setdefault(logical_id, []).append(hook)

    def fail_after_running(self, logical_id: str, error: str, times: int = 1) -> list[dict[str, Any]]:
        """The function's next `times` invocations run to the end, every AWS call made, and then fail with the
        error named `error` instead of answering: `Lambda.ServiceException` (Lambda lost the answer; the ASL's
        Retry runs the function again) or `Sandbox.Timedout` (the function timed out after its calls went
        through; not retried, so the stage's Catch rolls back). Returns the events of the invocations failed."""
        failed: list[dict[str, Any]] = []
        lambda_error = type(error, (Exception,), {})  # Lambda's own error names have dots: no class can be spelt so

        def fail(event: dict[str, Any], result: Any) -> None:
            if len(failed) < times:
                failed.append(event)
                raise lambda_error(f"injected: {logical_id} ran, then {error}")

        self.after_invoke(logical_id, fail)
        return failed

    def install(self) -> None:
        runtime = self
        self._original = LambdaSimpleBackend.invoke

        def invoke(backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any,
                   response_headers: dict[str, str]) -> bytes:
            return runtime.invoke(function_name, body, response_headers)

        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        if self._original is not None:
            LambdaSimpleBackend.invoke = self._original  # type: ignore[method-assign]

    def invoke(self, function_name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        logical_id, arn, handler_path, role_arn = self._functions[function_name]
        event = json.loads(body or "{}")
        call = Invocation(logical_id, event)
        with self._lock:
            self.invocations.append(call)
        try:
            handler = load_handler(handler_path)
            for hook in self.before.get(logical_id, []):
                hook(event)
            context = LambdaContext(function_name=arn.rsplit(":", 1)[-1], invoked_function_arn=arn)
            with acting_as(role_arn), FUNCTION_ENVIRONMENT.of_function(self._environments.get(logical_id, {})):
                for _ in range(self.repeat):
                    call.result = handler(json.loads(json.dumps(event)), context)
            for after in self.after.get(logical_id, []):
                after(event, call.result)
        except Exception as error:  # noqa: BLE001 - Lambda reports every unhandled error the same way
            call.error = type(error).__name__
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({
                "errorType": type(error).__name__,
                "errorMessage": str(error),
                "stackTrace": _project_frames(error),
            }).encode()
        return json.dumps(call.result).encode()
