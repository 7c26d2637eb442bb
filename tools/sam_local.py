"""`make invoke FUNCTION=... EVENT=...`: `sam local invoke` of one function in a real Lambda
container, against the emulator that `make demo DEMO_ARGS=--keep` leaves on 127.0.0.1:5123.

What it runs is printed first. Around the invoke it:
- points the function at the emulator through events/env.json (host.docker.internal:5123), and on
  Linux relays the docker bridge's address (what host.docker.internal resolves to with
  --add-host host.docker.internal:host-gateway) to the emulator on loopback for the invoke's
  duration: the emulator stays on 127.0.0.1, nothing listens on any other interface;
- runs x86_64 (`Architecture=x86_64`) unless ARCHITECTURE says otherwise, so an x86 machine needs
  no arm64 emulation, with --skip-pull-image: the base image is the one Docker already has (pulled,
  or built by `make lambda-image`);
- keeps SAM's own check of the caller's identity (an STS call it retries for seconds without AWS)
  from leaving the machine.
The function's answer is the last line of stdout, as sam local prints it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_PORT = 5123
SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address
BUILT_TEMPLATE = ROOT / ".aws-sam" / "build" / "template.yaml"


def command(function: str, event: str, architecture: str, sam: str = "sam") -> list[str]:
    return [sam, "local", "invoke", function, "--template-file", str(BUILT_TEMPLATE.relative_to(ROOT)),
            "--event", event, "--env-vars", "events/env.json", "--skip-pull-image",
            "--parameter-overrides", f"Architecture={architecture}",
            "--add-host", "host.docker.internal:host-gateway"]


def sam_environment() -> dict[str, str]:
    """The emulator's credentials (it takes any) for SAM to hand the container; SAM's own STS call
    fails at once on a closed local port instead of being retried against AWS."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")}
    return environment | {
        "AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "1", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9", "SAM_CLI_TELEMETRY": "0",
    }


def docker_bridge_address() -> str | None:
    """The address host-gateway names: the docker0 bridge's, on Linux; None elsewhere (Docker Desktop
    routes host.docker.internal to the host's loopback itself)."""
    if not sys.platform.startswith("linux"):
        return None
    import fcntl  # Linux only

    request = struct.pack("256s", b"docker0")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            answer = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)
        except OSError:  # no docker0: Docker is not on the default bridge here
            return None
    return socket.inet_ntoa(answer[20:24])


@contextmanager
def relay(listen: str | None, port: int) -> Iterator[None]:
    """Forward connections to listen:port to 127.0.0.1:port while the invoke runs."""
    if listen is None:
        yield
        return
    server = socket.create_server((listen, port))
    stop = threading.Event()

    def pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", port))
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(source, target), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        server.close()
        thread.join(timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make invoke", description=__doc__.splitlines()[0])
    parser.add_argument("function", help="logical id in template.yaml, e.g. DiscoverFunction")
    parser.add_argument("event", help="the event file, e.g. events/discover.json")
    parser.add_argument("--architecture", default="x86_64", choices=["x86_64", "arm64"])
    parser.add_argument("--sam", default="sam", help="the sam executable")
    options = parser.parse_args(argv)
    if not BUILT_TEMPLATE.is_file():
        print("error: no .aws-sam/build: run `make build` first", file=sys.stderr)
        return 1
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", DEMO_PORT)) != 0:
            print(f"error: nothing serves 127.0.0.1:{DEMO_PORT}: start `make demo DEMO_ARGS=--keep` in another "
                  "terminal and leave it running", file=sys.stderr)
            return 1
    arguments = command(options.function, options.event, options.architecture, options.sam)
    print("$ " + shlex.join([Path(arguments[0]).name, *arguments[1:]]), file=sys.stderr, flush=True)
    with relay(docker_bridge_address(), DEMO_PORT):
        return subprocess.run(arguments, cwd=ROOT, env=sam_environment(), check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
