"""The strict layer: every AWS call a botocore client makes in this process passes through AWS's own
rules before and after moto serves it.

moto is permissive (see docs/aws-fidelity.md). The layer hooks botocore's own events, so it sees
the call as AWS would receive it (who signed it, the account and region, the API parameters) and
the answer the client gets:

- `before-parameter-build`: keep the caller's parameters for the rules;
- `before-call`: who calls (the access key's principal, or the Lambda function whose handler runs
  on this thread), then each rule's `before`, which may refuse the call with an `AwsError` (the
  client then raises the ClientError AWS would send; moto never sees the call);
- `after-call`: each rule's `after`, which reads or corrects moto's answer in place, and the state
  it keeps (a peering's lifecycle, tags per account) from what succeeded.

A rule may also serve a call moto does not implement (VPC Lattice's resource gateways, RAM's
invitations: emulator/strict/lattice/) by raising `Served` with the answer from `before`; the
answer is checked against botocore's model of the operation's output before the client sees it.

Each rule has a name; a test relaxes one on purpose with `strict.relax(name)` to show the plain
moto behaviour it guards against.

This module is the machinery only: it knows no rule. `StrictAws` is given its rules (AWS's, in order:
emulator.strict.rules.all_rules), and emulator.aws puts it together with moto.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.handlers import BUILTIN_HANDLERS
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.botocore_stubber import MockRawResponse
from moto.iam.models import get_account_id_from
from moto.sts.models import sts_backends

from emulator.strict.shapes import check_output


class AwsError(Exception):
    """What AWS answers instead of serving a call: its error code, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class Principal:
    """Who signs a call. `arn` is the IAM role (not the session) whose policies AWS evaluates; None for
    the harness itself (the tests and topology setting up accounts), which no rule of IAM applies to."""

    account_id: str
    arn: str | None = None
    session_name: str = ""

    @property
    def is_harness(self) -> bool:
        return self.arn is None


@dataclass
class Call:
    service: str  # botocore's hyphenized service id: ec2, rds, sts, sfn ...
    operation: str  # the API's name: CreateVpcPeeringConnection
    params: dict[str, Any]  # the API parameters as the caller gave them
    region: str
    principal: Principal
    context: dict[str, Any] = field(default_factory=dict)  # a rule's notes from before() to after()

    @property
    def account_id(self) -> str:
        return self.principal.account_id


class Served(Exception):
    """What AWS answers to a call a rule serves itself (moto does not implement it): the parsed answer,
    as botocore would have parsed AWS's response."""

    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__("served by the strict layer")
        self.response = response


class Rule:
    """A rule of AWS's that moto does not keep. `before` may raise AwsError; `after` sees the answer of
    a call that succeeded (moto's, or a rule's)."""

    name = "rule"

    def before(self, call: Call) -> None:
        return None

    def after(self, call: Call, response: dict[str, Any]) -> None:
        return None


_acting = threading.local()


@contextmanager
def acting_as(role_arn: str | None) -> Iterator[None]:
    """Calls made on this thread without credentials of their own (a Lambda handler using the
    environment's) are signed by `role_arn`, as a Lambda function's calls are by its execution role."""
    previous = getattr(_acting, "role_arn", None)
    _acting.role_arn = role_arn
    try:
        yield
    finally:
        _acting.role_arn = previous


def principal_of(access_key: str | None) -> Principal:
    if access_key:
        account_id = get_account_id_from(access_key)
        assumed = sts_backends[account_id]["aws"].get_assumed_role_from_access_key(access_key)
        if assumed is not None:
            role_arn = str(assumed.role_arn)
            if role_arn.rsplit("/", 1)[-1] == HARNESS_ROLE_NAME:
                return Principal(account_id)
            return Principal(account_id, role_arn, assumed.session_name)
    acting = getattr(_acting, "role_arn", None)
    if acting:
        return Principal(acting.split(":")[4], acting)
    return Principal(DEFAULT_ACCOUNT_ID)


# The role emulator.topology assumes to set up other accounts: the harness, not a principal under test.
HARNESS_ROLE_NAME = "emulator-admin"


class StrictAws:
    """The rules given, installed on every botocore client this process creates while installed."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules: list[Rule] = rules
        self.relaxed: set[str] = set()
        self.refusals: list[tuple[str, str, str]] = []  # (operation, error code, message), for tests
        self._lock = threading.RLock()
        self._handlers: list[tuple[str, Callable[..., Any]]] = [
            ("before-parameter-build", self._keep_params),
            ("before-call", self._before),
            ("after-call", self._after),
        ]

    def rule(self, name: str) -> Rule:
        return next(rule for rule in self.rules if rule.name == name)

    @contextmanager
    def relax(self, *names: str) -> Iterator[None]:
        """Plain moto for the named rules inside the block."""
        unknown = set(names) - {rule.name for rule in self.rules}
        if unknown:
            raise KeyError(f"no such strict rule: {', '.join(sorted(unknown))}")
        added = set(names) - self.relaxed
        self.relaxed |= added
        try:
            yield
        finally:
            self.relaxed -= added

    def active(self) -> list[Rule]:
        return [rule for rule in self.rules if rule.name not in self.relaxed]

    def install(self) -> StrictAws:
        for handler in self._handlers:
            BUILTIN_HANDLERS.append(handler)
        return self

    def uninstall(self) -> None:
        for handler in self._handlers:
            if handler in BUILTIN_HANDLERS:
                BUILTIN_HANDLERS.remove(handler)

    def __enter__(self) -> StrictAws:
        return self.install()

    def __exit__(self, *_: object) -> None:
        self.uninstall()

    # botocore's events

    def _keep_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["strict_params"] = params

    def _before(self, model: Any, params: dict[str, Any], request_signer: Any, context: dict[str, Any],
                **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        credentials = getattr(request_signer, "_credentials", None)
        access_key = credentials.get_frozen_credentials().access_key if credentials is not None else None
        call = Call(model.service_model.service_id.hyphenize(), model.name, context.get("strict_params") or {},
                    str(context.get("client_region") or "us-east-1"), principal_of(access_key))
        context["strict_call"] = call
        try:
            with self._lock:
                for rule in self.active():
                    rule.before(call)
        except AwsError as error:
            context["strict_refused"] = True
            self.refusals.append((call.operation, error.code, error.message))
            return _error_response(error)
        except Served as served:
            check_output(model, served.response)
            return _served_response(model, served.response)
        return None

    def _after(self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        call: Call | None = context.get("strict_call")
        if call is None or context.get("strict_refused") or getattr(http_response, "status_code", 500) >= 300:
            return
        with self._lock:
            for rule in self.active():
                rule.after(call, parsed)


def _error_response(error: AwsError) -> tuple[AWSResponse, dict[str, Any]]:
    http = AWSResponse("https://strict.emulator", error.status, {}, MockRawResponse(b""))  # type: ignore[arg-type]
    parsed = {"Error": {"Code": error.code, "Message": error.message},
              "ResponseMetadata": {"HTTPStatusCode": error.status, "RequestId": "strict-emulator"}}
    return http, parsed


def _served_response(model: Any, response: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    status = int(model.http.get("responseCode", 200))
    http = AWSResponse("https://strict.emulator", status, {}, MockRawResponse(b""))  # type: ignore[arg-type]
    return http, {**response, "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "strict-emulator"}}

