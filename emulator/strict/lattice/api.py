"""VPC Lattice's API as one rule (`vpc-lattice-api`: moto answers "not yet implemented"), serving the
operations of emulator.strict.lattice.gateways and .configurations and the tags of both; the names they
share; and the lifecycle of what the lattice rules serve, resource gateways and resource endpoints."""

from __future__ import annotations

from typing import Any

from emulator.strict.lattice.book import BookRule, Configuration, Gateway, LatticeBook, Transient, error, not_found
from emulator.strict.lattice.configurations import CONFIGURATION_OPERATIONS
from emulator.strict.lattice.gateways import GATEWAY_OPERATIONS
from emulator.strict.layer import Call, Served


def list_tags(book: LatticeBook, call: Call) -> dict[str, Any]:
    """The tags of one of the caller's gateways or configurations (a consumer does not see the owner's)."""
    arn = call.params["resourceArn"]
    kind = arn.rsplit("/", 1)[0].rsplit(":", 1)[-1]
    found: Gateway | Configuration | None = (
        book.gateway(call, arn) if kind == "resourcegateway" else
        book.configuration(call, arn) if kind == "resourceconfiguration" else None)
    if found is None:
        raise not_found("lattice resource", arn)
    return {"tags": dict(found.tags)}


OPERATIONS = {**GATEWAY_OPERATIONS, **CONFIGURATION_OPERATIONS, "ListTagsForResource": list_tags}


class LatticeApi(BookRule):
    """Serves VPC Lattice's resource gateway and resource configuration operations (moto: "not yet
    implemented"), per account and Region, answering as the API reference shapes them."""

    name = "vpc-lattice-api"

    def before(self, call: Call) -> None:
        if call.service == "vpc-lattice" and call.operation in OPERATIONS:
            raise Served(OPERATIONS[call.operation](self.book, call))


class UniqueNames(BookRule):
    """A resource gateway's name, and a resource configuration's, are unique within the account (and
    Region): ConflictException."""

    name = "lattice-unique-names"

    def before(self, call: Call) -> None:
        if call.service != "vpc-lattice":
            return
        place = (call.account_id, call.region)
        if call.operation == "CreateResourceGateway":
            taken = [g.id for g in self.book.gateways.values()
                     if (g.account, g.region) == place and g.name == call.params["name"]]
        elif call.operation == "CreateResourceConfiguration":
            taken = [c.id for c in self.book.configurations.values()
                     if (c.account, c.region) == place and c.name == call.params["name"]]
        else:
            return
        if taken:
            raise error("ConflictException", f"The name {call.params['name']} is already used by {taken[0]}.")


class LatticeLifecycle(BookRule):
    """A resource gateway, and a resource configuration, is CREATE_IN_PROGRESS, then ACTIVE (a configuration may
    end CREATE_FAILED); deleted, DELETE_IN_PROGRESS, then gone (ResourceNotFoundException). A resource endpoint
    is Pending, then Available; deleted, Deleting, then Deleted. Each transient status lasts `Timing`'s ticks.
    Relaxed, a new thing is ready at once and a deleted one gone at the next look (as the CLI examples show
    them, and as moto would have it)."""

    name = "lattice-lifecycle"

    def after(self, call: Call, response: dict[str, Any]) -> None:
        timing = self.book.timing
        if call.service == "vpc-lattice" and call.operation == "CreateResourceGateway":
            gateway = self.book.gateways[response["id"]]
            gateway.state = Transient("CREATE_IN_PROGRESS", timing.gateway_creating, "ACTIVE")
            response["status"] = gateway.state.status
        elif call.service == "vpc-lattice" and call.operation == "DeleteResourceGateway":
            if call.context.get("deleting"):
                self.book.gateways[response["id"]].state.remaining = timing.gateway_deleting
        elif call.service == "vpc-lattice" and call.operation == "CreateResourceConfiguration":
            configuration = self.book.configurations[response["id"]]
            configuration.state = Transient("CREATE_IN_PROGRESS", timing.configuration_creating,
                                            configuration.state.status)
            response["status"] = configuration.state.status
        elif call.service == "vpc-lattice" and call.operation == "DeleteResourceConfiguration":
            if call.context.get("deleting"):
                identifier = call.params["resourceConfigurationIdentifier"]
                self.book.configurations[identifier.rsplit("/", 1)[-1]].state.remaining = timing.configuration_deleting
        elif call.service == "ec2" and call.operation == "CreateVpcEndpoint":
            endpoint = self.book.endpoints.get(response["VpcEndpoint"]["VpcEndpointId"])
            if endpoint is not None:
                endpoint.state = Transient("Pending", timing.endpoint_pending, "Available")
                response["VpcEndpoint"]["State"] = "Pending"
        elif call.service == "ec2" and call.operation == "DeleteVpcEndpoints":
            for endpoint_id in call.context.get("deleting", []):
                self.book.endpoints[endpoint_id].state.remaining = timing.endpoint_deleting
