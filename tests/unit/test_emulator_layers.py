"""The emulator's layers (emulator/__init__.py says what each is): no import circle, no import from a
lower layer to a higher one, and every module in a layer. Read from the source (tools/import_graph.py),
so an import inside a function counts as much as one at the top."""

from __future__ import annotations

from pathlib import Path

from tools.import_graph import cycles, import_graph, layer_of, upward_imports

EMULATOR = Path(__file__).resolve().parents[2] / "emulator"

# Module or package -> its layer (a package names every module in it that has no row of its own).
LAYERS = {
    # 0: the strict layer's machinery, which knows no rule
    "emulator.strict": 0,  # the package itself re-exports strict.layer
    "emulator.strict.layer": 0,
    "emulator.strict.shapes": 0,
    "emulator.strict.dynamodb": 0,
    # 1: AWS's rules
    "emulator.strict.iam": 1,
    "emulator.strict.peerings": 1,
    "emulator.strict.network": 1,
    "emulator.strict.lattice": 1,
    "emulator.strict.stepfunctions": 1,
    "emulator.strict.events": 1,
    # 2: every rule, in order
    "emulator.strict.rules": 2,
    # 3: the emulated AWS, in process or over HTTP
    "emulator.aws": 3,
    "emulator.server": 3,
    # 4: template.yaml deployed onto it
    "emulator.template": 4,
    "emulator.lambda_runtime": 4,
    "emulator.network": 4,
    "emulator.custom_resources": 4,
    "emulator.stack": 4,
    # 5: the world around a deployment
    "emulator.topology": 5,
    "emulator.accounts": 5,
    "emulator.apigateway": 5,
    "emulator.registry": 5,
    "emulator.databases": 5,
    "emulator.wire_servers": 5,
    "emulator.certificates": 5,
    "emulator.costs": 5,
    "emulator.installed_release": 5,
    # 6: the tools
    "emulator.demo": 6,
    "emulator.events": 6,
    "emulator.bench": 6,
    "emulator.demo_install": 6,
}
ROOT = "emulator"  # the package's docstring: below everything, and importing nothing

GRAPH = import_graph(EMULATOR)


def test_the_emulator_has_no_import_circle() -> None:
    circles = cycles(GRAPH)
    assert circles == [], "modules that import each other, through others:\n" + "\n".join(
        " ".join(circle) for circle in circles)


def test_every_module_of_the_emulator_is_in_a_layer() -> None:
    unplaced = []
    for module in sorted(set(GRAPH) - {ROOT}):
        try:
            layer_of(module, LAYERS)
        except KeyError:
            unplaced.append(module)
    assert unplaced == [], "add these modules (or their package) to LAYERS, and to emulator/__init__.py's list"


def test_no_module_of_the_emulator_imports_from_a_higher_layer() -> None:
    assert GRAPH[ROOT] == set()
    upward = upward_imports(GRAPH, {ROOT: 0, **LAYERS})
    assert upward == [], "imports from a higher layer (invert them: hand the lower module what it needs):\n" + \
        "\n".join(upward)
