"""Route 53's private hosted zones as a VPC sees them (`hosted-zones-by-vpc`): AWS's ListHostedZonesByVPC "Lists
all the private hosted zones that a specified VPC is associated with, regardless of which Amazon Web Services
account or Amazon Web Services service owns the hosted zones" (botocore's route53 model); moto lists the caller's
own zones only. The answer gets the zones of the other accounts associated with the VPC, each with its owner."""

from __future__ import annotations

from typing import Any

from moto.route53.models import route53_backends

from emulator.strict.layer import Call, Rule

PARTITION = "aws"


class HostedZonesByVpc(Rule):
    name = "hosted-zones-by-vpc"

    def after(self, call: Call, response: dict[str, Any]) -> None:
        if (call.service, call.operation) != ("route-53", "ListHostedZonesByVPC"):
            return
        for account_id in list(route53_backends.keys()):
            if account_id == call.account_id:
                continue  # moto's own answer
            for zone in route53_backends[account_id][PARTITION].zones.values():
                if zone.private_zone and any(vpc["vpc_id"] == call.params["VPCId"] for vpc in zone.vpcs):
                    response["HostedZoneSummaries"].append({"HostedZoneId": zone.id, "Name": zone.name,
                                                            "Owner": {"OwningAccount": account_id}})


def hosted_zone_rules() -> list[Rule]:
    return [HostedZonesByVpc()]
