"""A release: one `make build` published, versioned, to Nekt's release bucket in each Region, so that
CloudFormation creates the main stack (and the Nekt-account stack) from a template URL, with no local tooling.

In each Region's bucket (`<bucket prefix>-<region>`), under `nekt-peering/<version>/`:

    code/<sha256>.zip          the functions' package (one object: every function deploys the same build)
    layer/<sha256>.zip         DependenciesLayer
    statemachine/<name>        the ASL definitions, with their ${...} for DefinitionSubstitutions
    api/openapi.yaml           the API's body (the template's AWS::Include)
    template.json              template.yaml, its CodeUri, ContentUri, DefinitionUri and Include in this bucket
    nekt-account/template.json nekt-account/template.yaml, its probe's CodeUri in this bucket
    release.json               written last: the release is complete in this Region once it exists

Lambda takes a function's code only from a bucket in the function's own Region, hence a bucket per Region and a
template per Region naming its own bucket (docs/deploying.md, "Releases"). The templates keep SAM's transform:
CloudFormation applies it when it creates the stack, as for `sam deploy`.

A release is immutable: publishing a version again converges when every object is the same (a re-run after a
lost answer) and is refused, changing nothing more, when one differs.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parent.parent.parent
NEKT_ACCOUNT_TEMPLATE = ROOT / "nekt-account" / "template.yaml"
MANIFEST = "release.json"
# Every file of a package gets this time, so that the same build makes the same zip, and the same key.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class OperatorError(Exception):
    """Base of the failures `make release` and `nekt-peering onboard` / `offboard` name on purpose (docs/errors.md,
    "Errors of release and onboarding"): each is found before anything is written."""


class VersionMismatch(OperatorError):
    """VERSION is not the version the built template carries (its Release mapping)."""


class BuildMissing(OperatorError):
    """No `make build` output, or one that lacks a function's or the layer's directory."""


class ReleaseBucketUnusable(OperatorError):
    """A Region's release bucket does not exist, cannot be read, or is in another Region."""


class ReleaseImmutable(OperatorError):
    """The version is already published with different content: a release is never overwritten."""


class ReleaseNotFound(OperatorError):
    """No complete release of that version in that Region."""


@dataclass(frozen=True)
class Location:
    """Where a version is published in one Region."""

    bucket_prefix: str
    version: str
    region: str

    @property
    def bucket(self) -> str:
        return f"{self.bucket_prefix}-{self.region}"

    def key(self, name: str) -> str:
        return f"nekt-peering/{self.version}/{name}"

    def s3_uri(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.key(name)}"

    def url(self, name: str) -> str:
        """The object's virtual-hosted-style URL, the form CloudFormation takes as a TemplateURL."""
        return f"https://{self.bucket}.s3.{self.region}.amazonaws.com/{self.key(name)}"

    @property
    def template_url(self) -> str:
        return self.url("template.json")

    @property
    def nekt_account_template_url(self) -> str:
        return self.url("nekt-account/template.json")


def zipped(directory: Path) -> bytes:
    """A directory's files as a zip, the same bytes for the same files (sorted, fixed times and modes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(directory).as_posix(), ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_template(path: Path) -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml  # the template's short forms (!Ref, !Sub...) as CloudFormation reads them

    loaded: dict[str, Any] = json.loads(json.dumps(cfn_yaml.load(str(path))))
    return loaded


def release_version(template: dict[str, Any]) -> str:
    return str(template["Mappings"]["Release"]["Stack"]["Version"])


# Where a Region's bucket goes in the built templates, until each Region's copy is made (Artifacts.templates).
IN_BUCKET = "s3://{release-bucket}/"


@dataclass
class Artifacts:
    """One build's objects (name under the version -> bytes) and its two templates, naming those objects
    `IN_BUCKET<name>` (a DefinitionUri, an S3 location object, by {"Bucket": IN_BUCKET, "Key": <name>})."""

    objects: dict[str, bytes]
    template: dict[str, Any]
    nekt_account_template: dict[str, Any]

    def templates(self, location: Location) -> dict[str, bytes]:
        """The two templates of the location's Region, naming the objects in its bucket."""
        def placed(node: Any) -> Any:
            if isinstance(node, str) and node.startswith(IN_BUCKET):
                return location.s3_uri(node.removeprefix(IN_BUCKET))
            if isinstance(node, dict) and node.get("Bucket") == IN_BUCKET:
                return {"Bucket": location.bucket, "Key": location.key(node["Key"])}
            if isinstance(node, dict):
                return {key: placed(value) for key, value in node.items()}
            if isinstance(node, list):
                return [placed(item) for item in node]
            return node

        return {name: json.dumps(placed(template), indent=1).encode()
                for name, template in (("template.json", self.template),
                                       ("nekt-account/template.json", self.nekt_account_template))}


def artifacts(build_dir: Path, version: str) -> Artifacts:
    """Reads `make build`'s output (.aws-sam/build): its template, each function's and the layer's directory,
    the state machines' definitions and the API's body it names."""
    built = build_dir / "template.yaml"
    if not built.is_file():
        raise BuildMissing(f"no {built}: run make build (make release runs it first)")
    template = load_template(built)
    if release_version(template) != version:
        raise VersionMismatch(
            f"VERSION={version} but the build's template.yaml is release {release_version(template)}: set "
            "pyproject.toml's version, run make openapi (which carries it to the template), then make release")
    objects: dict[str, bytes] = {}

    def put(name: str, data: bytes) -> str:
        objects[name] = data
        return name

    def package(logical_id: str, kind: str) -> str:
        directory = build_dir / logical_id
        if not directory.is_dir():
            raise BuildMissing(f"no {directory}: the build is not the template's; run make build again")
        data = zipped(directory)
        return put(f"{kind}/{_sha256(data)}.zip", data)

    template.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    code = ""
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            code = package(logical_id, "code")
            properties["CodeUri"] = IN_BUCKET + code
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = IN_BUCKET + package(logical_id, "layer")
        elif resource["Type"] == "AWS::Serverless::StateMachine":
            source = (build_dir / properties["DefinitionUri"]).resolve()
            properties["DefinitionUri"] = {"Bucket": IN_BUCKET,
                                           "Key": put(f"statemachine/{source.name}", source.read_bytes())}
        elif resource["Type"] == "AWS::Serverless::Api":
            include = properties["DefinitionBody"]["Fn::Transform"]["Parameters"]
            source = (build_dir / include["Location"]).resolve()
            include["Location"] = IN_BUCKET + put(f"api/{source.name}", source.read_bytes())
    # The probe (standard library only) is in the functions' package: one object serves both stacks.
    nekt_account = load_template(NEKT_ACCOUNT_TEMPLATE)
    nekt_account["Resources"]["ProbeFunction"]["Properties"]["CodeUri"] = IN_BUCKET + code
    return Artifacts(objects, template, nekt_account)


def publish(build_dir: Path, version: str, regions: list[str], bucket_prefix: str,
            s3_client: Callable[[str], Any]) -> dict[str, Location]:
    """Publishes one build to every Region's bucket (s3_client(region) gives that Region's client); the manifest
    last, so a Region is released only once all of its objects are there. Returns each Region's location."""
    built = artifacts(build_dir, version)
    locations = {region: Location(bucket_prefix, version, region) for region in regions}
    contents = {}
    for region, location in locations.items():
        objects = {**built.objects, **built.templates(location)}
        manifest = {"version": version, "region": region, "templateUrl": location.template_url,
                    "nektAccountTemplateUrl": location.nekt_account_template_url,
                    "objects": {name: _sha256(data) for name, data in sorted(objects.items())}}
        contents[region] = {**objects, MANIFEST: json.dumps(manifest, indent=1, sort_keys=True).encode()}
    # Every bucket and every object already there is checked before the first write: a refusal publishes nothing.
    missing = {region: _missing(s3_client(region), location, contents[region])
               for region, location in locations.items()}
    for region, location in locations.items():
        s3 = s3_client(region)
        for name in sorted(missing[region], key=lambda name: name == MANIFEST):  # the manifest last
            _put(s3, location, name, contents[region][name])
    return locations


def _check_bucket(s3: Any, location: Location) -> None:
    try:
        constraint = s3.get_bucket_location(Bucket=location.bucket).get("LocationConstraint")
    except ClientError as error:
        raise ReleaseBucketUnusable(
            f"release bucket {location.bucket}: {error.response.get('Error', {}).get('Code')}: create it in "
            f"{location.region} with the policy of docs/deploying.md (Releases), or check the credentials") from None
    region = constraint or "us-east-1"  # GetBucketLocation answers no LocationConstraint for us-east-1
    if region != location.region:
        raise ReleaseBucketUnusable(
            f"release bucket {location.bucket} is in {region}, not {location.region}: Lambda takes a function's "
            "code only from a bucket in the function's own Region")


def _missing(s3: Any, location: Location, contents: dict[str, bytes]) -> list[str]:
    """The names not yet published in the location; ReleaseImmutable if one is, with other content."""
    _check_bucket(s3, location)
    missing = []
    for name, data in contents.items():
        try:
            existing = s3.head_object(Bucket=location.bucket, Key=location.key(name))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
            missing.append(name)
            continue
        if existing.get("Metadata", {}).get("sha256") != _sha256(data):
            raise ReleaseImmutable(
                f"{location.s3_uri(name)} is already released with other content: a release is never overwritten; "
                "publish a new version (pyproject.toml's version, make openapi, make release)")
    return missing


def _put(s3: Any, location: Location, name: str, data: bytes) -> None:
    content_type = {".json": "application/json", ".yaml": "application/yaml", ".zip": "application/zip"}
    s3.put_object(Bucket=location.bucket, Key=location.key(name), Body=data, Metadata={"sha256": _sha256(data)},
                  ContentType=content_type.get(Path(name).suffix, "application/octet-stream"))


def released(s3: Any, location: Location) -> dict[str, Any]:
    """The manifest of a complete release in the location's Region, or ReleaseNotFound."""
    try:
        body = s3.get_object(Bucket=location.bucket, Key=location.key(MANIFEST))["Body"].read()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        raise ReleaseNotFound(
            f"no release {location.version} in {location.region} ({location.s3_uri(MANIFEST)}: {code}): "
            f"make release VERSION={location.version} REGIONS=\"... {location.region}\"") from None
    manifest: dict[str, Any] = json.loads(body)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nekt_peering_cli.release", description=__doc__.split("\n")[0])
    parser.add_argument("--version", required=True)
    parser.add_argument("--regions", required=True, help="space- or comma-separated Regions")
    parser.add_argument("--bucket-prefix", required=True, help="each Region's bucket is <prefix>-<region>")
    parser.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build")
    parser.add_argument("--endpoint-url", default=None, help="another S3 than AWS's (the emulator)")
    arguments = parser.parse_args(argv)
    regions = arguments.regions.replace(",", " ").split()
    try:
        locations = publish(arguments.build_dir, arguments.version, regions, arguments.bucket_prefix,
                            lambda region: boto3.client("s3", region_name=region,
                                                        endpoint_url=arguments.endpoint_url))
    except OperatorError as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    for region, location in locations.items():
        print(f"{region}: {location.template_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
