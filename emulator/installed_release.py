"""A stack installed from a release (`make release`), as CloudFormation installs it from the template URL: the
released template and the objects it names, read from the release's bucket, not from this checkout. And the
other steps of the onboarding loop that `make demo-install` and tests/e2e/test_install_from_release.py share:
the release published to Nekt's buckets, the quick-create link read as the console reads it, Nekt's platform
listening on its bus.

moto's CloudFormation cannot create the main stack (it applies no AWS::Serverless transform, and its state
machines take no S3 definition nor substitutions: docs/aws-fidelity.md), so emulator.stack.Stack deploys it:
here from a checkout's layout of the release (the template, each S3 object it names unpacked or written beside
it, each of its S3 URIs replaced by that local path, nothing else changed). The Lambda runtime runs handlers in
process by module name: `released_code` has Python import `nekt_peering` from the released package (bytecode
only) for as long as the stack runs, in place of functions/ (docs/deploying.md, "Installing from a release, in
the emulator").
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlparse

from emulator.template import Template
from emulator.topology import NEKT_ACCOUNT, NektNetwork, account_session
from nekt_peering_cli.release import load_template, publish, release_version

PACKAGE = "nekt_peering"
PLATFORM_LOG_GROUP = "/nekt/platform/events"


def nekt_client(service: str, region: str) -> Any:
    return account_session(NEKT_ACCOUNT, region).client(service)  # type: ignore[call-overload]


def create_release_buckets(prefix: str, regions: list[str]) -> None:
    """Nekt's releases' buckets, <prefix>-<region>, in each Region."""
    for region in regions:
        where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        nekt_client("s3", region).create_bucket(Bucket=f"{prefix}-{region}", **where)


def release(build_dir: Path, regions: list[str], prefix: str) -> str:
    """`make release` of the build (a `make build` output in a checkout's layout) to Nekt's buckets; its version."""
    version = release_version(load_template(build_dir / "template.yaml"))
    publish(build_dir, version, regions, prefix, lambda region: nekt_client("s3", region))
    return version


def nekts_platform(nekt: NektNetwork) -> Callable[[], list[dict[str, Any]]]:
    """What Nekt's platform does: a rule on its bus for every nekt.peering event, to a log group it reads. Returns
    the reader: every event delivered so far, oldest first."""
    session = account_session(nekt.account_id, nekt.region)
    session.client("logs").create_log_group(logGroupName=PLATFORM_LOG_GROUP)
    events = session.client("events")
    events.put_rule(Name="platform-events", EventPattern=json.dumps({"source": ["nekt.peering"]}))
    events.put_targets(Rule="platform-events", Targets=[{
        "Id": "log", "Arn": f"arn:aws:logs:{nekt.region}:{nekt.account_id}:log-group:{PLATFORM_LOG_GROUP}"}])
    return lambda: [json.loads(event["message"]) for event in sorted(session.client("logs").filter_log_events(
        logGroupName=PLATFORM_LOG_GROUP)["events"], key=lambda event: event["timestamp"])]


@dataclass
class QuickCreate:
    """What the console reads from a quick-create link: the template URL, the stack's name, its parameters."""

    template_url: str
    stack_name: str
    parameters: dict[str, str]

    @classmethod
    def of(cls, link: str) -> QuickCreate:
        fields = dict(parse_qsl(urlparse(link).fragment.partition("?")[2]))
        return cls(fields["templateURL"], fields["stackName"],
                   {name.removeprefix("param_"): value for name, value in fields.items() if name.startswith("param_")})


def released_object(template_url: str, name: str) -> bytes:
    """An object of the release whose template is at template_url (https://<bucket>.s3.<region>.amazonaws.com/
    <key>), as CloudFormation reads it."""
    url = urlparse(template_url)
    bucket, region = url.netloc.removesuffix(".amazonaws.com").split(".s3.")
    key = url.path.lstrip("/").removesuffix("template.json") + name
    data: bytes = nekt_client("s3", region).get_object(Bucket=bucket, Key=key)["Body"].read()
    return data


def installed_template(template_url: str, directory: Path) -> Template:
    """The template CloudFormation reads from the URL, and the objects it names, in a checkout's layout."""
    url = urlparse(template_url)
    bucket, region = url.netloc.removesuffix(".amazonaws.com").split(".s3.")
    prefix = url.path.lstrip("/").removesuffix("template.json")
    return checkout_of_release(nekt_client("s3", region), bucket, prefix, directory)


def checkout_of_release(s3: Any, bucket: str, prefix: str, directory: Path) -> Template:
    """The release under s3://bucket/prefix (its template.json and every object it names) in `directory`, in a
    checkout's layout: each zip unpacked in a folder of its name, the definitions and the API's body as files."""
    def fetched(key: str) -> bytes:
        data: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return data

    def local(uri: str) -> str:
        """The object of an s3://bucket/key URI, made a path relative to `directory`."""
        key = uri.removeprefix(f"s3://{bucket}/")
        if not key.startswith(prefix):
            raise ValueError(f"{uri} is not an object of the release {bucket}/{prefix}")
        name = key.removeprefix(prefix)
        target = directory / name
        if not target.exists():
            data = fetched(key)
            if name.endswith(".zip"):
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    archive.extractall(target)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        return name

    template: dict[str, Any] = json.loads(fetched(f"{prefix}template.json"))
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            properties["CodeUri"] = local(properties["CodeUri"])
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = local(properties["ContentUri"])
        elif resource["Type"] == "AWS::Serverless::StateMachine":
            location = properties["DefinitionUri"]
            properties["DefinitionUri"] = local(f"s3://{location['Bucket']}/{location['Key']}")
        elif resource["Type"] == "AWS::Serverless::Api":
            include = properties["DefinitionBody"]["Fn::Transform"]["Parameters"]
            include["Location"] = local(include["Location"])
    path = directory / "template.json"
    path.write_text(json.dumps(template, indent=1))
    return Template(path)


def package_modules() -> dict[str, ModuleType]:
    return {name: module for name, module in sys.modules.items()
            if name == PACKAGE or name.startswith(f"{PACKAGE}.")}


@contextmanager
def released_code(code_dir: Path) -> Iterator[None]:
    """Within: `nekt_peering` and its modules are imported afresh from `code_dir` (a released package, first on
    sys.path), whatever was imported before from functions/; after: as they were. Classes are not shared across
    the two (a handler's error is named by its class's name, as Lambda does, so the runs do not mind)."""
    saved = package_modules()
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, str(code_dir))
    try:
        yield
    finally:
        for name in package_modules():
            del sys.modules[name]
        sys.modules.update(saved)
        while str(code_dir) in sys.path:
            sys.path.remove(str(code_dir))
