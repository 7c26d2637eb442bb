"""`make demo` (the README's first command) connects the emulated accounts and says so."""

from __future__ import annotations

import pytest

from emulator import demo


def test_demo_plans_then_connects_and_every_check_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main() == 0

    out = capsys.readouterr().out
    assert "would request a peering from" in out
    assert "CONNECTED: orders-db" in out
    assert out.count("  route   ") == 4
    assert "[ok] DNS resolution from the Nekt VPC is on" in out
    assert "FAILED" not in out
