"""The code's layers, read from its source (tools/import_graph.py): no import circle, no import from a lower
layer to a higher one, and no import between two packages of one layer (a path is read, changed or added
without opening the others). A new package fails here until the table gives it a layer."""

from __future__ import annotations

from pathlib import Path

from tools.import_graph import cycles, import_graph, layer_of, upward_imports

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions" / "nekt_peering"

# nekt_peering/__init__.py says the same in words.
LAYERS = {
    "nekt_peering": 0,
    "nekt_peering.core": 0,
    "nekt_peering.probe": 0,  # runs in the Nekt account, standard library only
    "nekt_peering.registry": 1,
    "nekt_peering.ingress": 1,  # the security-group stage the public and peering paths share
    "nekt_peering.databases": 1,  # Discover's reading of the database, one module per kind
    "nekt_peering.installation": 1,  # the stack's announcement to Nekt (a custom resource)
    "nekt_peering.public": 2,
    "nekt_peering.peering": 2,
    "nekt_peering.resource_endpoint": 2,
    "nekt_peering.connect": 3,
    "nekt_peering.disconnect": 3,
    "nekt_peering.api": 4,
    "nekt_peering.handlers": 5,
}


def package_of(module: str) -> str:
    """The package of LAYERS that holds the module."""
    parts = module.split(".")
    return next(".".join(parts[:length]) for length in range(len(parts), 0, -1) if ".".join(parts[:length]) in LAYERS)


def sideways_imports(graph: dict[str, set[str]], layers: dict[str, int]) -> list[str]:
    """Imports between two different packages of the same layer (the root package and core excepted: they are one)."""
    return sorted(f"{importer} -> {imported}" for importer, targets in graph.items() for imported in targets
                  if layer_of(importer, layers) == layer_of(imported, layers) > 0
                  and package_of(importer) != package_of(imported))


def test_the_functions_import_in_no_circle() -> None:
    assert cycles(import_graph(FUNCTIONS)) == []


def test_no_module_of_the_functions_imports_from_a_higher_layer() -> None:
    assert upward_imports(import_graph(FUNCTIONS), LAYERS) == []


def test_no_package_imports_another_of_its_own_layer() -> None:
    assert sideways_imports(import_graph(FUNCTIONS), LAYERS) == []


def test_the_checks_find_a_circle_an_upward_and_a_sideways_import() -> None:
    """The checks themselves, on a graph that breaks each rule once."""
    graph = {"nekt_peering.core.model": {"nekt_peering.peering.plan"},
             "nekt_peering.peering.plan": {"nekt_peering.core.model", "nekt_peering.resource_endpoint.plan"},
             "nekt_peering.resource_endpoint.plan": set()}
    assert cycles(graph) == [["nekt_peering.core.model", "nekt_peering.peering.plan"]]
    assert upward_imports(graph, LAYERS) == [
        "nekt_peering.core.model (layer 0) -> nekt_peering.peering.plan (layer 2)"]
    assert sideways_imports(graph, LAYERS) == ["nekt_peering.peering.plan -> nekt_peering.resource_endpoint.plan"]
