"""Redshift provisioned clusters as AWS answers them where moto falls short (`redshift-cluster-vpc`): moto's
DescribeClusters leaves out `VpcId`, which AWS gives for a cluster in a VPC (botocore's redshift
`Cluster.VpcId`: "The identifier of the VPC the cluster is in, if the cluster is in a VPC"); every cluster is in a
VPC now, so the answer gets the VPC of the cluster's subnet group, as AWS's would have it."""

from __future__ import annotations

from typing import Any

from moto.redshift.models import redshift_backends

from emulator.strict.layer import Call, Rule


class RedshiftClusterVpc(Rule):
    name = "redshift-cluster-vpc"

    def after(self, call: Call, response: dict[str, Any]) -> None:
        if (call.service, call.operation) != ("redshift", "DescribeClusters"):
            return
        subnet_groups = redshift_backends[call.account_id][call.region].subnet_groups
        for cluster in response.get("Clusters", []):
            group = subnet_groups.get(cluster.get("ClusterSubnetGroupName", ""))
            if "VpcId" not in cluster and group is not None:
                cluster["VpcId"] = group.vpc_id


def redshift_rules() -> list[Rule]:
    return [RedshiftClusterVpc()]
