"""The database servers start wherever the checkout is: as root, PostgreSQL runs as the system user
pgserver, which must reach its binaries and its data directory, and a checkout or a TMPDIR in a
directory only root can enter (a `mktemp -d`, /root) holds neither (emulator/databases.py)."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from emulator.databases import POSTGRES_USER, PostgresServer, postgres_bin, servers_base, unreachable_by
from emulator.template import ROOT

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="as root only: PostgreSQL then runs as another user")


@as_root
def test_the_binaries_are_outside_the_checkout_where_the_server_user_reaches_them() -> None:
    assert ROOT not in postgres_bin().parents
    assert unreachable_by(postgres_bin() / "initdb", POSTGRES_USER) is None
    assert unreachable_by(servers_base(), POSTGRES_USER) is None


@as_root
def test_postgresql_starts_when_the_temporary_directory_is_root_s_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    closed = tmp_path / "root-only"
    closed.mkdir()
    closed.chmod(0o700)
    monkeypatch.setenv("TMPDIR", str(closed))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    assert unreachable_by(closed, POSTGRES_USER) is not None

    server = PostgresServer().start()
    try:
        assert unreachable_by(server.directory, POSTGRES_USER) is None
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    finally:
        server.stop()


def test_a_place_the_server_user_cannot_enter_is_named() -> None:
    open_ = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        open_.chmod(0o755)
        closed = open_ / "closed"
        (closed / "inside").mkdir(parents=True)
        closed.chmod(0o700)
        assert unreachable_by(open_, POSTGRES_USER) is None
        if os.geteuid() == 0:  # another user's directory: mode bits the kernel applies to pgserver
            assert unreachable_by(closed / "inside", POSTGRES_USER) == closed
    finally:
        shutil.rmtree(open_)
