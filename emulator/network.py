"""The emulated VPCs' name resolution and TCP, as the probe (nekt_peering.probe) sees them in the Nekt VPC.

moto has no data plane: nothing answers on an emulated database's private address. Here a database
endpoint resolves to the address a test or the demo gives it (a private one in the database's subnet,
or any other to emulate a wrong resolution), and a connection to a *served* private address reaches
127.0.0.1 on the same port, where a real server runs (emulator/databases.py). Any other address
answers nothing (a TCP timeout, at once), and any other name does not resolve: the probe's code runs
as it does in Lambda, and no packet leaves the loopback interface.
"""

from __future__ import annotations

import socket

from emulator.strict.lattice.dataplane import EndpointPath, endpoint_path
from nekt_peering import probe

LOOPBACK = "127.0.0.1"


class EmulatedNetwork(probe.Network):
    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {}
        self.served: set[str] = set()
        self._replaced: probe.Network | None = None

    def place(self, host: str, address: str, served: bool = True) -> None:
        """`host` resolves to `address`; with `served`, TCP to that address reaches 127.0.0.1."""
        self.names[host] = [address]
        if served:
            self.served.add(address)
        else:
            self.served.discard(address)

    def resolve(self, host: str, port: int) -> list[str]:
        path = endpoint_path(host)
        if path is not None:
            return self._follow_resource_endpoint(path)
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.names[host])

    def _follow_resource_endpoint(self, path: EndpointPath) -> list[str]:
        """A resource endpoint's DNS name (and, with private DNS, the database's own name: the Nekt VPC's
        private hosted zone answers first) resolves to the endpoint's address in Nekt's subnet; TCP to it
        reaches the database when the database is served and its security group admits the resource
        gateway's (emulator.strict.lattice.dataplane): the path's own data plane, read at each lookup."""
        if path.admitted and any(address in self.served for address in self.names.get(path.target_host, [])):
            self.served.add(path.address)
        else:
            self.served.discard(path.address)
        return [path.address]

    def connect(self, address: str, port: int, timeout: float) -> socket.socket:
        if address not in self.served:
            raise TimeoutError("timed out")  # nothing routes there: AWS drops the SYN, the probe waits
        return socket.create_connection((LOOPBACK, port), timeout=timeout)

    def install(self) -> EmulatedNetwork:
        self._replaced, probe.NETWORK = probe.NETWORK, self
        return self

    def uninstall(self) -> None:
        if self._replaced is not None:
            probe.NETWORK, self._replaced = self._replaced, None
