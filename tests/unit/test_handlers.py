"""Each function loads only its own stage and path: its handler module, imported in a fresh interpreter as
Lambda imports it, brings in only the packages its row of ALLOWED names, never the X-Ray SDK. The
Nekt account's probe, deployed without the layer, loads the standard library only."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from emulator.template import NEKT_TEMPLATE_PATH, Template

TEMPLATE = Template()
FUNCTIONS = TEMPLATE.functions()
# The packages of nekt_peering each function may load: its own stage, its own path, and what they use
# (nekt_peering/__init__.py has the layers). The table is the architecture: a function that starts loading
# another path's package, or the API's, fails here until the table says why it should.
PATHS = ("public", "peering", "resource_endpoint", "ingress")
ALLOWED = {
    # auto weighs peering's plan (its refusal) before it takes the resource-endpoint path
    "DiscoverFunction": {"connect", "databases", "registry", "peering", "ingress", "resource_endpoint"},
    "PreflightFunction": {"connect", *PATHS},
    "VerifyFunction": {"connect", *PATHS},
    "CheckPathFunction": {"connect", "databases", "registry", *PATHS},
    "RequestPeeringFunction": {"peering"},
    "PeeringStatusFunction": {"peering"},
    "AcceptPeeringFunction": {"peering"},
    "UpdateRoutesFunction": {"peering"},
    "EnableDnsResolutionFunction": {"peering"},
    "DeleteRoutesFunction": {"peering"},
    "RestoreDnsResolutionFunction": {"peering"},
    "DeletePeeringFunction": {"peering"},
    "AuthorizeIngressFunction": {"ingress"},
    "RevokeIngressFunction": {"ingress"},
    "ShareDatabaseFunction": {"resource_endpoint"},
    "CreateResourceEndpointFunction": {"resource_endpoint"},
    "RemoveResourceEndpointFunction": {"resource_endpoint"},
    "UnshareDatabaseFunction": {"resource_endpoint"},
    "FindConnectionFunction": {"disconnect", "registry", "peering"},
    "TakeLocksFunction": {"registry"},
    "RecordConnectionFunction": {"registry"},
    "RecordFailureFunction": {"registry"},
    "RecordDisconnectFunction": {"disconnect", "registry", "ingress", "resource_endpoint"},
    "ApiFunction": {"api", "registry"},
    "ListConnectedFunction": {"registry"},
    "RecordSweepFunction": {"registry"},
    "AnnounceStackFunction": {"installation"},  # CloudFormation's custom resource, not a workflow stage
}
EVERY_FUNCTION = {"core", "handlers"}  # the shared core, and the function's entry module with handlers.stage
API_ONLY = ("nekt_peering.api", "aws_lambda_powertools.event_handler")
NEVER = ("aws_xray_sdk", "pydantic", "nekt_peering.probe")
# What Powertools' event_handler and data_classes packages would load for the API, which uses the REST
# resolver alone (nekt_peering.api.rest_resolver).
API_UNUSED = ("asyncio", "aws_lambda_powertools.event_handler.appsync",
              "aws_lambda_powertools.event_handler.bedrock_agent", "aws_lambda_powertools.event_handler.openapi.merge",
              "aws_lambda_powertools.utilities.data_classes.sqs_event",
              "aws_lambda_powertools.utilities.data_classes.kafka_event")


def loaded_by(handler: str) -> set[str]:
    """The modules importing the handler's module loads, the handler itself resolved as Lambda does.
    Compiling a JSON schema at import fails it: the validators are generated ahead of time."""
    module, _, function = handler.rpartition(".")
    probe = ("import importlib, json, sys; before = set(sys.modules); import fastjsonschema; "
             "fastjsonschema.compile = fastjsonschema.compile_to_code = None; "
             f"assert callable(getattr(importlib.import_module({module!r}), {function!r})); "
             "print(json.dumps(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=TEMPLATE.code_dir(), capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(TEMPLATE.code_dir()), "PATH": ""})
    return set(json.loads(out.stdout))


def under(modules: set[str], packages: tuple[str, ...]) -> set[str]:
    return {name for name in modules if name.split(".")[0] in packages or name.startswith(
        tuple(f"{package}." for package in packages)) or name in packages}


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_a_function_loads_its_own_entry_module_and_what_it_calls_only(function: str) -> None:
    handler = FUNCTIONS[function]
    loaded = loaded_by(handler)
    own_module = handler.rpartition(".")[0]
    entry_modules = {name for name in loaded if name.startswith("nekt_peering.handlers.")}
    packages = {name.split(".")[1] for name in loaded if name.startswith("nekt_peering.")}

    assert under(loaded, NEVER) == set()
    assert entry_modules <= {own_module, "nekt_peering.handlers.stage", "nekt_peering.handlers.locks"}
    strays = packages - ALLOWED[function] - EVERY_FUNCTION
    assert not strays, f"{function} loads {strays}"
    if function == "ApiFunction":
        assert under(loaded, API_UNUSED) == set(), "the API loads Powertools it does not use"
    else:
        assert under(loaded, API_ONLY) == set(), f"{function} loads the API's dependencies"


def test_the_table_names_every_function_of_the_template() -> None:
    assert set(ALLOWED) == set(FUNCTIONS)


def test_every_handler_is_in_an_entry_module_of_its_own_family() -> None:
    modules = {handler.rpartition(".")[0] for handler in FUNCTIONS.values()}
    assert all(module.startswith("nekt_peering.handlers.") for module in modules)
    assert "nekt_peering.handlers.stage" not in modules


def test_the_probe_loads_the_standard_library_only() -> None:
    """No layer in the Nekt account's stack: anything beyond the standard library would fail its cold start."""
    nekt_account = Template(NEKT_TEMPLATE_PATH)
    module, _, function = nekt_account.functions()["ProbeFunction"].rpartition(".")
    probe = ("import importlib, json, sys; before = set(sys.modules); "
             f"assert callable(getattr(importlib.import_module({module!r}), {function!r})); "
             "print(json.dumps(sorted(set(sys.modules) - before)))")
    code_dir = nekt_account.path.parent / nekt_account.resources["ProbeFunction"]["Properties"]["CodeUri"]
    out = subprocess.run([sys.executable, "-S", "-c", probe], cwd=code_dir, capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(code_dir), "PATH": ""})
    loaded = set(json.loads(out.stdout))

    assert {name for name in loaded if name.split(".")[0] not in sys.stdlib_module_names} == {
        "nekt_peering", "nekt_peering.probe"}
