"""`make release`: one `make build` published to each Region's own bucket (moto's S3), everything CloudFormation
needs to create the two stacks from a template URL; a release converges when run again and is never
overwritten; bad inputs are named and publish nothing."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from emulator.lambda_runtime import LambdaContext, load_handler
from emulator.template import ROOT
from nekt_peering_cli import release
from nekt_peering_cli.release import (
    BuildMissing,
    Location,
    ReleaseBucketUnusable,
    ReleaseImmutable,
    VersionMismatch,
    publish,
)

REGIONS = ["us-east-1", "eu-west-1"]
PREFIX = "nekt-peering-releases"


@pytest.fixture
def build_dir(release_build: Path) -> Path:
    return release_build


@pytest.fixture
def version(build_dir: Path) -> str:
    return release.release_version(release.load_template(build_dir / "template.yaml"))


def s3(region: str) -> Any:
    return boto3.client("s3", region_name=region)


def create_buckets(regions: list[str] = REGIONS, prefix: str = PREFIX) -> None:
    for region in regions:
        where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3(region).create_bucket(Bucket=f"{prefix}-{region}", **where)


def objects(region: str, prefix: str = PREFIX) -> dict[str, Any]:
    listed = s3(region).list_objects_v2(Bucket=f"{prefix}-{region}").get("Contents", [])
    return {item["Key"]: item["LastModified"] for item in listed}


def body(location: Location, name: str) -> bytes:
    data: bytes = s3(location.region).get_object(Bucket=location.bucket, Key=location.key(name))["Body"].read()
    return data


def s3_uris(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node] if node.startswith("s3://") else []
    if isinstance(node, dict) and set(node) == {"Bucket", "Key"}:
        return [f"s3://{node['Bucket']}/{node['Key']}"]
    values = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    return [uri for value in values for uri in s3_uris(value)]


def files_of(directory: Path) -> dict[str, bytes]:
    return {path.relative_to(directory).as_posix(): path.read_bytes()
            for path in directory.rglob("*") if path.is_file()}


def unzipped(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_each_region_gets_the_build_and_templates_that_name_only_its_own_bucket(
        aws: None, build_dir: Path, version: str) -> None:
    create_buckets()

    locations = publish(build_dir, version, REGIONS, PREFIX, s3)

    for region in REGIONS:
        location = locations[region]
        assert location.bucket == f"{PREFIX}-{region}"
        manifest = json.loads(body(location, "release.json"))
        assert manifest["version"] == version and manifest["region"] == region
        assert manifest["templateUrl"] == f"https://{PREFIX}-{region}.s3.{region}.amazonaws.com/nekt-peering/" \
                                          f"{version}/template.json"
        assert set(manifest["objects"]) | {"release.json"} == {
            key.removeprefix(f"nekt-peering/{version}/") for key in objects(region)}
        template = json.loads(body(location, "template.json"))
        nekt_account = json.loads(body(location, "nekt-account/template.json"))
        # Every local path of the build became an object of this Region's release, and it exists.
        uris = s3_uris(template["Resources"]) + s3_uris(nekt_account["Resources"])
        assert uris and all(uri.startswith(f"s3://{location.bucket}/nekt-peering/{version}/") for uri in uris)
        for uri in uris:
            assert uri.removeprefix(f"s3://{location.bucket}/") in objects(region)
        assert "CodeUri" not in template.get("Globals", {}).get("Function", {})
        assert template["Transform"] == nekt_account["Transform"] == "AWS::Serverless-2016-10-31"
        # The code is the build's: nekt_peering as bytecode (make build's), the layer with its packages.
        functions = [resource for resource in template["Resources"].values()
                     if resource["Type"] == "AWS::Serverless::Function"]
        code = {resource["Properties"]["CodeUri"] for resource in functions}
        assert len(code) == 1 and len(functions) > 20
        package = unzipped(body(location, code.pop().removeprefix(f"s3://{location.bucket}/nekt-peering/"
                                                                 f"{version}/")))
        assert package == files_of(build_dir / "DiscoverFunction")
        assert "nekt_peering/probe.pyc" in package and not any(name.endswith(".py") for name in package)
        assert nekt_account["Resources"]["ProbeFunction"]["Properties"]["CodeUri"] == \
            template["Resources"]["DiscoverFunction"]["Properties"]["CodeUri"]
        layer = template["Resources"]["DependenciesLayer"]["Properties"]["ContentUri"]
        assert unzipped(body(location, layer.split(f"/{version}/", 1)[1])) == files_of(build_dir / "DependenciesLayer")
        definition = (ROOT / "statemachine" / "connect.asl.json").read_bytes()
        assert body(location, "statemachine/connect.asl.json") == definition
        assert body(location, "api/openapi.yaml") == (ROOT / "api" / "openapi.yaml").read_bytes()


def test_the_released_template_is_one_sams_transform_takes(aws: None, build_dir: Path, version: str) -> None:
    """What CloudFormation does with the template (AWS::Serverless-2016-10-31), by SAM's own translator: each
    function's code, the layer's content and each definition are S3 objects of the stack's Region."""
    create_buckets(["eu-west-1"])
    location = publish(build_dir, version, ["eu-west-1"], PREFIX, s3)["eu-west-1"]
    template = json.loads(body(location, "template.json"))

    translated = Translator(None, Parser(), boto_session=boto3.Session(region_name="eu-west-1")).translate(
        template, parameter_values={}, get_managed_policy_map=lambda: {})

    resources = translated["Resources"].values()
    codes = [resource["Properties"]["Code"] for resource in resources if resource["Type"] == "AWS::Lambda::Function"]
    assert codes and all(code["S3Bucket"] == location.bucket for code in codes)
    assert all(code["S3Key"] in {location.key(name) for name in json.loads(body(location, "release.json"))["objects"]}
               for code in codes)
    layers = [resource["Properties"]["Content"] for resource in resources
              if resource["Type"] == "AWS::Lambda::LayerVersion"]
    assert [layer["S3Bucket"] for layer in layers] == [location.bucket]
    definitions = [resource["Properties"]["DefinitionS3Location"] for resource in resources
                   if resource["Type"] == "AWS::StepFunctions::StateMachine"]
    assert sorted(definition["Key"] for definition in definitions) == sorted(
        location.key(f"statemachine/{name}") for name in ("connect.asl.json", "disconnect.asl.json",
                                                          "check_path.asl.json", "sweep.asl.json"))


def test_publishing_the_same_build_again_converges_and_other_content_is_refused(
        aws: None, build_dir: Path, version: str, tmp_path: Path) -> None:
    create_buckets(["eu-west-1"])
    publish(build_dir, version, ["eu-west-1"], PREFIX, s3)
    first = objects("eu-west-1")

    publish(build_dir, version, ["eu-west-1"], PREFIX, s3)
    assert objects("eu-west-1") == first  # nothing written again

    # Another build of the same version, in a checkout's layout (the built template names the state machines'
    # and the API's sources relative to the build, ../../statemachine).
    changed = tmp_path / ".aws-sam" / "build"
    shutil.copytree(build_dir, changed, symlinks=True)
    for source in ("statemachine", "api"):
        (tmp_path / source).symlink_to(ROOT / source)
    for function_dir in changed.iterdir():
        if (function_dir / "nekt_peering").is_dir():
            (function_dir / "nekt_peering" / "extra.pyc").write_bytes(b"other code")
    with pytest.raises(ReleaseImmutable, match="already released with other content"):
        publish(changed, version, ["eu-west-1"], PREFIX, s3)
    assert objects("eu-west-1") == first  # not even the new code's object


@pytest.mark.parametrize("case", ["version", "build", "no bucket", "bucket elsewhere"])
def test_bad_release_inputs_are_named_and_publish_nothing(
        aws: None, build_dir: Path, version: str, tmp_path: Path, case: str) -> None:
    create_buckets(["eu-west-1"])
    s3("us-east-1").create_bucket(Bucket="elsewhere-eu-west-1")
    attempts: dict[str, tuple[type[Exception], str, Callable[[], Any]]] = {
        "version": (VersionMismatch, "VERSION=9.9.9 but the build's template.yaml is release",
                    lambda: publish(build_dir, "9.9.9", ["eu-west-1"], PREFIX, s3)),
        "build": (BuildMissing, "run make build",
                  lambda: publish(tmp_path, version, ["eu-west-1"], PREFIX, s3)),
        "no bucket": (ReleaseBucketUnusable, "NoSuchBucket",
                      lambda: publish(build_dir, version, ["eu-west-1", "ap-south-1"], PREFIX, s3)),
        "bucket elsewhere": (ReleaseBucketUnusable, "is in us-east-1, not eu-west-1",
                             lambda: publish(build_dir, version, ["eu-west-1"], "elsewhere", s3)),
    }
    error, message, attempt = attempts[case]

    with pytest.raises(error, match=message):
        attempt()

    assert objects("eu-west-1") == {}
    assert s3("us-east-1").list_objects_v2(Bucket="elsewhere-eu-west-1").get("KeyCount") == 0


RUN_RELEASED = """
import json, sys
code, layer, event, runtime = sys.argv[1:]
sys.path[:0] = [code, layer + "/python"]
sys.path.append(runtime)  # boto3 and botocore, which the Lambda runtime provides (its .pth files are not read)
import nekt_peering.handlers.preflight as module

class Context:
    function_name = "PreflightFunction"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:nekt-peering-PreflightFunction"
    memory_limit_in_mb = 256
    aws_request_id = "released"

    def get_remaining_time_in_millis(self):
        return 60000

answer = module.preflight(json.load(open(event)), Context())
print(json.dumps({"loadedFrom": [module.__file__, sys.modules["aws_lambda_powertools"].__file__], "answer": answer}))
"""


def python313() -> str:
    """The interpreter `make build` builds with (pyenv's 3.13 first: its shim needs pyenv's environment)."""
    found = [*sorted(Path.home().glob(".pyenv/versions/3.13*/bin/python3.13")), shutil.which("python3.13")]
    return str(next(candidate for candidate in found if candidate))


def test_the_released_packages_run_on_the_functions_runtime_as_the_sources_do(
        aws: None, build_dir: Path, version: str, tmp_path: Path) -> None:
    """The code a stack created from the release runs: Preflight from the released code and layer zips alone (the
    package as bytecode, no source), on python3.13, plans the recorded event as functions/ does."""
    create_buckets(["eu-west-1"])
    location = publish(build_dir, version, ["eu-west-1"], PREFIX, s3)["eu-west-1"]
    template = json.loads(body(location, "template.json"))
    for name, uri in (("code", template["Resources"]["PreflightFunction"]["Properties"]["CodeUri"]),
                      ("layer", template["Resources"]["DependenciesLayer"]["Properties"]["ContentUri"])):
        with zipfile.ZipFile(io.BytesIO(body(location, uri.split(f"/{version}/", 1)[1]))) as archive:
            archive.extractall(tmp_path / name)
    event = ROOT / "events" / "preflight.json"

    runtime = Path(boto3.__file__).parent.parent  # the runtime's boto3: this environment's, after the release

    ran = subprocess.run([python313(), "-I", "-c", RUN_RELEASED, str(tmp_path / "code"), str(tmp_path / "layer"),
                          str(event), str(runtime)], capture_output=True, text=True, timeout=120, check=True,
                         env={"POWERTOOLS_SERVICE_NAME": "nekt-peering", "AWS_DEFAULT_REGION": "us-east-1"})

    released = json.loads(ran.stdout.strip().splitlines()[-1])
    assert released["loadedFrom"] == [str(tmp_path / "code" / "nekt_peering" / "handlers" / "preflight.pyc"),
                                      str(tmp_path / "layer" / "python" / "aws_lambda_powertools" / "__init__.py")]
    from_sources = load_handler("nekt_peering.handlers.preflight.preflight")(
        json.loads(event.read_text()), LambdaContext("PreflightFunction", "arn:aws:lambda:::function:preflight"))
    assert released["answer"] == json.loads(json.dumps(from_sources))


def test_make_releases_command_prints_each_regions_template_url_or_the_refusals_name(
        aws: None, build_dir: Path, version: str, capsys: pytest.CaptureFixture[str]) -> None:
    """What `make release` runs (python -m nekt_peering_cli.release), with the environment's credentials."""
    create_buckets()
    arguments = ["--regions", "us-east-1 eu-west-1", "--bucket-prefix", PREFIX, "--build-dir", str(build_dir)]

    refused = release.main(["--version", "9.9.9", *arguments])
    refusal = capsys.readouterr()
    released = release.main(["--version", version, *arguments])
    printed = capsys.readouterr()

    assert refused == 1 and refusal.err.startswith("VersionMismatch: VERSION=9.9.9 but the build's template.yaml")
    assert released == 0 and printed.out.splitlines() == [
        f"{region}: {Location(PREFIX, version, region).template_url}" for region in REGIONS]
