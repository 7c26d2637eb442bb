"""Real database servers on 127.0.0.1, for the probe's tests and the demo: PostgreSQL (the binaries of
the pgserver wheel, which `make databases` unpacks: install_postgresql), a TLS-only PostgreSQL (Debian's
postgresql: the wheel is built without SSL) and MariaDB (Debian's mariadb-server). Each listens on a free
loopback port, keeps its data in a temporary directory, and is stopped by its PID.

PostgreSQL refuses to run as root: as root, its files and process belong to the system user
`pgserver` (created when missing), as pgserver itself does. That user must reach the binaries and the
data directory, whatever directory the checkout is in (a `mktemp -d`, /root: only root enters those), so
neither is under the checkout: the binaries are unpacked into a cache outside it (postgres_home:
/var/cache/nekt-peering as root), the data go to a temporary directory every user can traverse
(server_directory), and a place pgserver cannot reach is refused before initdb, naming it.
"""

from __future__ import annotations

import os
import platform
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

from emulator.certificates import self_signed

# PostgreSQL 16 as the pgserver wheel bundles it (bin/ and lib/), whatever Python runs the venv: the
# binaries do not depend on it, and the wheel exists for CPython 3.12.
PGSERVER_WHEEL = "pgserver==0.1.4"
POSTGRES_USER = "pgserver"
PASSWORD = "not-a-real-password"
START_TIMEOUT = 60.0


def postgres_home() -> Path:
    """Where `make databases` unpacks the pgserver wheel's PostgreSQL, one directory per wheel and machine:
    /var/cache/nekt-peering/... as root (root's, readable and traversable by every user, pgserver included),
    else the user's cache (XDG_CACHE_HOME, ~/.cache). NEKT_POSTGRES_HOME chooses another."""
    if os.environ.get("NEKT_POSTGRES_HOME"):
        return Path(os.environ["NEKT_POSTGRES_HOME"])
    if os.geteuid() == 0:
        base = Path("/var/cache/nekt-peering")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nekt-peering"
    return base / f"postgresql-{PGSERVER_WHEEL.replace('==', '-')}-{platform.machine()}"


def postgres_bin() -> Path:
    """The pgserver PostgreSQL's bin/ (NEKT_POSTGRES_BIN: another PostgreSQL's)."""
    if os.environ.get("NEKT_POSTGRES_BIN"):
        return Path(os.environ["NEKT_POSTGRES_BIN"])
    return postgres_home() / "pgserver" / "pginstall" / "bin"


def unreachable_by(path: Path, user: str) -> Path | None:
    """The first directory on the way to `path` (itself included) that `user` may not search, or None: the
    mode bits, as the kernel reads them for a user that is not root (a user not created yet: as `other`)."""
    try:
        account = pwd.getpwnam(user)
        uid, groups = account.pw_uid, {account.pw_gid} | set(os.getgrouplist(user, account.pw_gid))
    except KeyError:
        uid, groups = -1, set()
    path = Path(os.path.abspath(path))
    for directory in [*reversed(path.parents), path]:
        mode = directory.stat()
        bit = (stat.S_IXUSR if mode.st_uid == uid else stat.S_IXGRP if mode.st_gid in groups else stat.S_IXOTH)
        if not mode.st_mode & bit:
            return directory
    return None


def servers_base() -> Path:
    """Where the servers' temporary directories go. As root, the PostgreSQL user must traverse every
    directory above its own: the temporary directory (TMPDIR) when it can, else /tmp."""
    base = Path(tempfile.gettempdir())
    if os.geteuid() == 0 and unreachable_by(base, POSTGRES_USER) is not None:
        return Path("/tmp")
    return base


def server_directory(prefix: str) -> Path:
    """A new temporary directory for a server's files (servers_base)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=servers_base()))


class ServerUnavailable(RuntimeError):
    """The server's binaries are missing: `make databases` installs them."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes] | None, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}): {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {START_TIMEOUT:g} s: {log.read_text()[-2000:]}")


def _wait_for_exit(pid: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def debian_postgres_bin() -> Path:
    """The newest PostgreSQL of Debian's postgresql package (built with OpenSSL)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parent.parent.name))
    if not found:
        raise ServerUnavailable("no Debian PostgreSQL in /usr/lib/postgresql: run `make databases`")
    return found[-1].parent


class PostgresServer:
    """`PostgresServer(tls_only=True)`: Debian's build (pgserver's has no SSL), `hostssl` lines only, and a
    self-signed certificate: for `localhost` (its CN, no subjectAltName), or for `certificate_names` (the
    subjectAltName's DNS names, the first also the CN), the names a client verifying it may connect by."""

    def __init__(self, tls_only: bool = False, certificate_names: Sequence[str] = ()) -> None:
        if certificate_names and not tls_only:
            raise ValueError("certificate_names needs tls_only=True: pgserver's PostgreSQL has no TLS")
        self.tls_only = tls_only
        self.certificate_names = list(certificate_names)
        self.bin = debian_postgres_bin() if tls_only else postgres_bin()
        self.port = free_port()
        self.directory = server_directory("nekt-postgres-")
        self.data = self.directory / "data"
        self.pid: int | None = None

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", POSTGRES_USER, "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *command], capture_output=True, timeout=START_TIMEOUT)
        if done.returncode:
            log = self.directory / "log"
            raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr.decode()[-2000:]}"
                               + (log.read_text()[-2000:] if log.exists() else ""))

    def start(self) -> PostgresServer:
        try:
            return self._start()
        except BaseException:
            self.stop()  # a server that did not start leaves no directory, or process, behind
            raise

    def _start(self) -> PostgresServer:
        if not (self.bin / "initdb").exists():
            raise ServerUnavailable(f"no PostgreSQL in {self.bin}: run `make databases`")
        if os.geteuid() == 0:
            _ensure_system_user(POSTGRES_USER)
        password_file = self.directory / "password"
        password_file.write_text(PASSWORD)
        self.directory.chmod(0o755)
        self._own(self.directory)
        if os.geteuid() == 0:
            for needed in (self.bin / "initdb", self.directory):
                blocked = unreachable_by(needed, POSTGRES_USER)
                if blocked is not None:
                    raise ServerUnavailable(
                        f"PostgreSQL runs as {POSTGRES_USER} (it refuses root), who cannot enter {blocked}, on the "
                        f"way to {needed}: `make databases` puts the binaries in {postgres_home()} (NEKT_POSTGRES_BIN "
                        "and TMPDIR must name directories every user can traverse)")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=scram-sha-256", f"--pwfile={password_file}")
        if self.tls_only:
            self._tls_only()
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "log"), "-w",
                  "-o", f"-h 127.0.0.1 -p {self.port} -k {self.directory}", "start")
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
        return self

    def _tls_only(self) -> None:
        key, certificate = _certificate(self.certificate_names)
        (self.data / "server.key").write_bytes(key)
        (self.data / "server.key").chmod(0o600)
        (self.data / "server.crt").write_bytes(certificate)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        (self.data / "pg_hba.conf").write_text("local all postgres scram-sha-256\n"
                                               "hostssl all all 127.0.0.1/32 scram-sha-256\n")
        self._own(self.data)

    def _own(self, path: Path) -> None:
        if os.geteuid() != 0:
            return
        user = pwd.getpwnam(POSTGRES_USER)
        for root, _, files in os.walk(path):
            os.chown(root, user.pw_uid, user.pw_gid)
            for name in files:
                os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid)

    def stop(self) -> None:
        if self.pid is not None:
            os.kill(self.pid, signal.SIGQUIT)  # PostgreSQL's immediate shutdown: its data is thrown away
            _wait_for_exit(self.pid)
            self.pid = None
        shutil.rmtree(self.directory, ignore_errors=True)


class MariaDbServer:
    """`MariaDbServer(tls=True)` also offers TLS (a client may still go without), with a self-signed certificate
    as PostgresServer's: for `localhost`, or for `certificate_names`."""

    def __init__(self, tls: bool = False, certificate_names: Sequence[str] = ()) -> None:
        if certificate_names and not tls:
            raise ValueError("certificate_names needs tls=True")
        self.tls = tls
        self.certificate_names = list(certificate_names)
        self.port = free_port()
        self.directory = server_directory("nekt-mariadb-")
        self.pid: int | None = None

    def start(self) -> MariaDbServer:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> MariaDbServer:
        server = shutil.which("mariadbd") or ("/usr/sbin/mariadbd" if os.path.exists("/usr/sbin/mariadbd") else None)
        install = shutil.which("mariadb-install-db")
        if server is None or install is None:
            raise ServerUnavailable("no mariadbd / mariadb-install-db: run `make databases` (Debian's mariadb-server)")
        user = ["--user=root"] if os.geteuid() == 0 else []
        data, log = self.directory / "data", self.directory / "log"
        subprocess.run([install, "--no-defaults", *user, f"--datadir={data}",
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       check=True, capture_output=True, timeout=START_TIMEOUT)
        tls = []
        if self.tls:
            key, certificate = _certificate(self.certificate_names)
            (self.directory / "server.key").write_bytes(key)
            (self.directory / "server.crt").write_bytes(certificate)
            tls = [f"--ssl-key={self.directory / 'server.key'}", f"--ssl-cert={self.directory / 'server.crt'}"]
        with log.open("wb") as output:
            process = subprocess.Popen(
                [server, "--no-defaults", *user, f"--datadir={data}", f"--socket={self.directory / 'sock'}",
                 f"--port={self.port}", "--bind-address=127.0.0.1", f"--pid-file={self.directory / 'pid'}",
                 "--skip-name-resolve", *tls], stdout=output, stderr=subprocess.STDOUT)
        self.pid = process.pid
        _wait_for_port(self.port, process, log)
        return self

    def stop(self) -> None:
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                os.waitpid(self.pid, 0)
            except ProcessLookupError:  # it exited and was reaped: a start that failed
                pass
            except ChildProcessError:
                _wait_for_exit(self.pid)
            self.pid = None
        shutil.rmtree(self.directory, ignore_errors=True)


def _certificate(names: list[str]) -> tuple[bytes, bytes]:
    """A key and a self-signed certificate: for `names` (the first also the CN), else for localhost."""
    return self_signed(names[0], dns_names=names) if names else self_signed()


def _ensure_system_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)


def unpack_postgresql(wheel: Path, destination: Path) -> None:
    """The wheel's PostgreSQL (pgserver/pginstall/) and the libraries its RPATH names (pgserver.libs/),
    in the wheel's layout, file modes kept."""
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            if not member.filename.startswith(("pgserver/pginstall/", "pgserver.libs/")) or member.is_dir():
                continue
            target = destination / member.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, target.open("wb") as output:
                shutil.copyfileobj(source, output)
            target.chmod(stat.S_IMODE(member.external_attr >> 16) or 0o644)


def _readable_by_all(root: Path) -> None:
    """Directories 755, files readable by all (executable by all when by their owner): root's umask may be 077."""
    for directory, _, files in os.walk(root):
        os.chmod(directory, 0o755)
        for name in files:
            path = os.path.join(directory, name)
            mode = stat.S_IMODE(os.lstat(path).st_mode)
            if not os.path.islink(path):
                os.chmod(path, mode | 0o444 | (0o111 if mode & stat.S_IXUSR else 0))


def install_postgresql() -> Path:
    """The pgserver wheel's PostgreSQL in postgres_home(), downloaded with this Python's pip when missing
    (what `make databases` runs); its bin/."""
    home = postgres_home()
    initdb = home / "pgserver" / "pginstall" / "bin" / "initdb"
    if initdb.exists():
        return initdb.parent
    home.parent.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0 and not os.environ.get("NEKT_POSTGRES_HOME"):
        home.parent.chmod(0o755)  # /var/cache/nekt-peering: root's, traversable by pgserver
    print(f"Installing PostgreSQL ({PGSERVER_WHEEL}) into {home}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=home.parent) as staging:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
                        "--only-binary=:all:", "--python-version", "3.12",
                        "--platform", f"manylinux2014_{platform.machine()}", "--dest", staging, PGSERVER_WHEEL],
                       check=True)
        unpacked = Path(staging) / "postgresql"
        unpack_postgresql(next(Path(staging).glob("pgserver-*.whl")), unpacked)
        _readable_by_all(unpacked)
        try:
            unpacked.rename(home)  # whole or not at all: a run stopped halfway leaves nothing to mistake
        except OSError:
            if not initdb.exists():  # not another `make databases` that finished first
                raise
    return initdb.parent


USAGE = """usage: python -m emulator.databases install-postgresql | where
  install-postgresql  the pgserver wheel's PostgreSQL into its cache directory, when missing (make databases)
  where               the directories the servers' files are in"""

if __name__ == "__main__":
    if sys.argv[1:] == ["install-postgresql"]:
        print(f"PostgreSQL: {install_postgresql()}")
    elif sys.argv[1:] == ["where"]:
        print(f"PostgreSQL binaries: {postgres_bin()}\nservers' data: {servers_base()}")
    else:
        sys.exit(USAGE)
