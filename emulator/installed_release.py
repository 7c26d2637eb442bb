"""A stack installed from a release (`make release`), as CloudFormation installs it from the template URL: the
released template and the objects it names, read from the release's bucket, not from this checkout.

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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from emulator.template import Template

PACKAGE = "nekt_peering"


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
