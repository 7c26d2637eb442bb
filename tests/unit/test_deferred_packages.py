"""nekt_peering.api.deferred_packages: a package whose __init__ is deferred gives what the real one gives,
the same objects, and runs its real __init__ the first time something only it can say is asked. Each
case runs in a fresh interpreter, as the API function's cold start does."""

from __future__ import annotations

import subprocess
import sys

import pytest

from emulator.template import Template

PACKAGE = "aws_lambda_powertools.utilities.data_classes"


def run(code: str) -> str:
    code_dir = Template().code_dir()
    out = subprocess.run([sys.executable, "-c", code], cwd=code_dir, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(code_dir), "PATH": ""})
    return out.stdout.strip()


def test_a_name_the_init_imports_loads_only_its_own_module() -> None:
    loaded = run(f"""
import sys
from nekt_peering.api.deferred_packages import defer_init
defer_init({PACKAGE!r})
from {PACKAGE} import SQSEvent
print(sorted(name for name in sys.modules if name.startswith({PACKAGE!r} + ".")))
""")

    assert "sqs_event" in loaded and "kafka_event" not in loaded and "vpc_lattice" not in loaded


def test_the_deferred_package_gives_the_real_packages_objects_and_ends_as_it() -> None:
    checked = run(f"""
import importlib, sys
from nekt_peering.api.deferred_packages import defer_init
defer_init({PACKAGE!r})
package = sys.modules[{PACKAGE!r}]
early = {{name: getattr(package, name) for name in ("APIGatewayProxyEvent", "SQSEvent", "event_source")}}
exported = package.__all__  # only the real __init__ says: it runs now
real = importlib.import_module({PACKAGE!r})
assert real is package and "__getattr__" not in vars(package)
assert all(getattr(real, name) is value for name, value in early.items())
assert all(hasattr(real, name) for name in exported)
print(len(exported))
""")

    assert int(checked) > 30


def test_a_package_already_imported_is_left_as_it_is() -> None:
    assert run(f"""
import importlib, sys
real = importlib.import_module({PACKAGE!r})
from nekt_peering.api.deferred_packages import defer_init
defer_init({PACKAGE!r})
print(sys.modules[{PACKAGE!r}] is real and "__getattr__" not in vars(real))
""") == "True"


def test_a_name_nobody_has_is_an_attribute_error_after_the_real_init() -> None:
    with pytest.raises(subprocess.CalledProcessError) as raised:
        run(f"""
from nekt_peering.api.deferred_packages import defer_init
defer_init({PACKAGE!r})
from {PACKAGE} import NoSuchEvent
""")

    assert "cannot import name 'NoSuchEvent'" in raised.value.stderr
