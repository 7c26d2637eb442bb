"""Redshift Serverless workgroups as one rule (`redshift-serverless-api`: moto has no Redshift Serverless), per
account and Region: CreateWorkgroup (the harness's), GetWorkgroup (what Discover reads) and DeleteWorkgroup, answered
as botocore's redshift-serverless model shapes them (the layer checks each answer against it).

A workgroup is CREATING when made, and for its first GetWorkgroup (AWS does not say for how long: the
pessimistic reading, at least one read; without its endpoint, which AWS does not promise before it is
AVAILABLE), then AVAILABLE: its endpoint is `<name>.<account>.<region>.redshift-serverless.amazonaws.com` on port
5439 unless another is given, with one VPC endpoint network interface in its first subnet. A test sets another
status with `set_status`."""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.ec2.models import ec2_backends

from emulator.strict.layer import AwsError, Call, Rule, Served

_IDS = uuid.UUID("5f0b4a52-7c1e-4f4e-9b4e-3c2f5d6a7b8c")


def workgroup_id(account: str, region: str, name: str) -> str:
    """A workgroup's id, the same for its name in its account and Region: IAM builds its ARN from the name."""
    return str(uuid.uuid5(_IDS, f"{account}:{region}:{name}"))


def workgroup_arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:redshift-serverless:{region}:{account}:workgroup/{workgroup_id(account, region, name)}"


@dataclass
class Workgroup:
    name: str
    namespace: str
    account: str
    region: str
    subnet_ids: list[str]
    security_group_ids: list[str]
    port: int
    publicly_accessible: bool
    status: str = "CREATING"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def read(self) -> dict[str, Any]:
        """GetWorkgroup's answer; a workgroup read once while CREATING is AVAILABLE from the next read on."""
        answer = self.answer()
        if self.status == "CREATING":
            self.status = "AVAILABLE"
        return answer

    def answer(self) -> dict[str, Any]:
        subnet = _subnet(self.account, self.region, self.subnet_ids[0])
        address = str(ipaddress.ip_network(subnet.cidr_block)[20]) if subnet is not None else "10.0.0.20"
        vpc_id = subnet.vpc_id if subnet is not None else ""
        answer = {
            "workgroupName": self.name, "workgroupId": workgroup_id(self.account, self.region, self.name),
            "workgroupArn": workgroup_arn(self.account, self.region, self.name), "namespaceName": self.namespace,
            "status": self.status, "baseCapacity": 128, "creationDate": self.created_at, "port": self.port,
            "publiclyAccessible": self.publicly_accessible, "subnetIds": list(self.subnet_ids),
            "securityGroupIds": list(self.security_group_ids),
            "endpoint": {
                "address": f"{self.name}.{self.account}.{self.region}.redshift-serverless.amazonaws.com",
                "port": self.port,
                "vpcEndpoints": [{"vpcEndpointId": f"vpce-{workgroup_id(self.account, self.region, self.name)[:17]}",
                                  "vpcId": vpc_id,
                                  "networkInterfaces": [{"networkInterfaceId": "eni-0000000000000000a",
                                                         "subnetId": self.subnet_ids[0],
                                                         "privateIpAddress": address}]}],
            },
        }
        if self.status == "CREATING":
            del answer["endpoint"]
        return answer


def _subnet(account: str, region: str, subnet_id: str) -> Any | None:
    for subnets in ec2_backends[account][region].subnets.values():
        if subnet_id in subnets:
            return subnets[subnet_id]
    return None


class RedshiftServerlessApi(Rule):
    """Serves a workgroup's create, read and delete (moto: no such service), per account and Region."""

    name = "redshift-serverless-api"

    def __init__(self) -> None:
        self.workgroups: dict[tuple[str, str, str], Workgroup] = {}

    def set_status(self, account: str, region: str, name: str, status: str) -> None:
        self.workgroups[(account, region, name)].status = status

    def before(self, call: Call) -> None:
        if call.service != "redshift-serverless":
            return
        key = (call.account_id, call.region, call.params.get("workgroupName", ""))
        if call.operation == "CreateWorkgroup":
            if key in self.workgroups:
                raise AwsError("ConflictException", f"Workgroup {key[2]} already exists.")
            params = call.params
            for subnet_id in params.get("subnetIds", []):
                if _subnet(call.account_id, call.region, subnet_id) is None:
                    raise AwsError("ValidationException", f"Subnet {subnet_id} does not exist.")
            self.workgroups[key] = Workgroup(
                key[2], params["namespaceName"], call.account_id, call.region, list(params.get("subnetIds", [])),
                list(params.get("securityGroupIds", [])), int(params.get("port", 5439)),
                bool(params.get("publiclyAccessible", False)))
            raise Served({"workgroup": self.workgroups[key].answer()})
        if call.operation in ("GetWorkgroup", "DeleteWorkgroup"):
            found = self.workgroups.get(key)
            if found is None:
                raise AwsError("ResourceNotFoundException", f"Workgroup {key[2]} not found.")
            if call.operation == "DeleteWorkgroup":
                del self.workgroups[key]
                raise Served({"workgroup": found.answer()})
            raise Served({"workgroup": found.read()})


def serverless_rules() -> list[Rule]:
    return [RedshiftServerlessApi()]
