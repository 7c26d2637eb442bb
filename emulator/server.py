"""An emulated AWS that other processes can reach: moto's server on a local port, in this process.

The `nekt-peering` CLI, the AWS CLI and `sam local invoke` talk to it over HTTP like to AWS
(`--endpoint-url`). The Lambda tasks of the state machines still run the repo's handlers in this
process (emulator.lambda_runtime), and their own AWS calls go back to the server through
AWS_ENDPOINT_URL, so every call of a run crosses the same HTTP boundary as in AWS.
"""

from __future__ import annotations

import logging
import os
import socket
import urllib.request
from contextlib import ExitStack
from typing import Any

from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer

from emulator.aws import MOTO_CONFIG, strict_aws
from emulator.strict.dynamodb import atomic_dynamodb
from emulator.strict.stepfunctions import start_execution_as_aws

DEFAULT_PORT = 5123


class PortInUse(Exception):
    pass


class EmulatedAws:
    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self.host, self.requested_port = host, port
        self._server: ThreadedMotoServer | None = None
        self._saved: dict[str, str | None] = {}
        self._saved_config: dict[str, Any] = {}
        self.strict = strict_aws()
        self._atomic = ExitStack()

    @property
    def endpoint_url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.get_host_and_port()
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return self._server.get_host_and_port()[1]

    def start(self) -> EmulatedAws:
        """Serve on host:port (port 0: any free one); from then on every boto3 client of this process
        without an endpoint of its own, the handlers' included, talks to this server."""
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        self._check_free()
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.requested_port, verbose=False)
        self._server.start()
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST"))
        config: dict[str, Any] = default_user_config  # type: ignore[assignment]
        for section, values in MOTO_CONFIG.items():  # what mock_aws(config=MOTO_CONFIG) sets in process
            self._saved_config[section] = dict(config.get(section, {}))
            config.setdefault(section, {}).update(values)
        # MOTO_PORT: where moto's Step Functions interpreter sends its own calls (Lambda, EventBridge).
        self._set({"AWS_ENDPOINT_URL": self.endpoint_url, "MOTO_PORT": str(self.port)})
        self.strict.install()  # the handlers' calls, made in this process, meet AWS's rules
        self._atomic.enter_context(atomic_dynamodb())  # the server serves requests in threads
        self._atomic.enter_context(start_execution_as_aws())
        return self

    def _check_free(self) -> None:
        """moto's server thread would die on a taken port and leave start() waiting forever."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((self.host, self.requested_port))
            except OSError as error:
                raise PortInUse(f"cannot serve on {self.host}:{self.requested_port}: {error.strerror}. Another "
                                "`make demo DEMO_ARGS=--keep` may hold it: stop it, or choose another port "
                                "(DEMO_ARGS='--port 5124'; 0 for any free one)") from None

    def stop(self) -> None:
        self.strict.uninstall()
        self._atomic.close()
        if self._server is not None:
            self._server.stop()
            self._server = None
        default_user_config.update(self._saved_config)  # type: ignore[typeddict-item]
        self._saved_config.clear()
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()

    def _set(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self._saved.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def __enter__(self) -> EmulatedAws:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
