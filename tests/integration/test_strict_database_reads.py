"""What Discover reads of the kinds beyond RDS, as AWS answers it where moto falls short (docs/aws-fidelity.md,
Database kinds beyond RDS): a provisioned cluster's VpcId (emulator/strict/redshift.py), a Serverless workgroup that
is CREATING before it is AVAILABLE (emulator/strict/serverless.py), and a VPC's private hosted zones whoever owns
them (emulator/strict/hosted_zones.py)."""

from __future__ import annotations

from emulator.stack import DEFAULT_ACCOUNT
from emulator.strict import StrictAws
from emulator.topology import account_session, create_database

REGION = "us-east-2"


def test_a_cluster_says_the_vpc_it_is_in_which_plain_moto_leaves_out(strict: StrictAws) -> None:
    database = create_database(identifier="analytics", region=REGION, kind="redshift", port=5439)
    redshift = account_session(DEFAULT_ACCOUNT, REGION).client("redshift")

    (cluster,) = redshift.describe_clusters(ClusterIdentifier="analytics")["Clusters"]
    with strict.relax("redshift-cluster-vpc"):
        (plain,) = redshift.describe_clusters(ClusterIdentifier="analytics")["Clusters"]

    assert cluster["VpcId"] == database.vpc_id
    assert "VpcId" not in plain


def test_a_new_workgroup_is_creating_without_an_endpoint_before_it_is_available(strict: StrictAws) -> None:
    database = create_database(identifier="warehouse", region=REGION, kind="ec2")  # a VPC and its subnets
    serverless = account_session(DEFAULT_ACCOUNT, REGION).client("redshift-serverless")

    created = serverless.create_workgroup(workgroupName="fresh", namespaceName="fresh-namespace",
                                          subnetIds=database.subnet_ids, securityGroupIds=[database.security_group_id])
    first = serverless.get_workgroup(workgroupName="fresh")["workgroup"]
    then = serverless.get_workgroup(workgroupName="fresh")["workgroup"]

    assert created["workgroup"]["status"] == first["status"] == "CREATING"
    assert "endpoint" not in first
    assert then["status"] == "AVAILABLE" and then["endpoint"]["port"] == 5439


def test_a_vpc_s_private_hosted_zones_are_listed_whoever_owns_them(strict: StrictAws) -> None:
    database = create_database(identifier="warehouse", region=REGION, kind="ec2")
    for owner, zone in ((DEFAULT_ACCOUNT, "orders.internal"), ("444455556666", "partner.internal")):
        account_session(owner, REGION).client("route53").create_hosted_zone(
            Name=zone, CallerReference=zone, HostedZoneConfig={"Comment": "", "PrivateZone": True},
            VPC={"VPCRegion": REGION, "VPCId": database.vpc_id})
    route53 = account_session(DEFAULT_ACCOUNT, REGION).client("route53")

    listed = route53.list_hosted_zones_by_vpc(VPCId=database.vpc_id, VPCRegion=REGION)["HostedZoneSummaries"]
    with strict.relax("hosted-zones-by-vpc"):
        plain = route53.list_hosted_zones_by_vpc(VPCId=database.vpc_id, VPCRegion=REGION)["HostedZoneSummaries"]

    assert sorted((zone["Name"], zone["Owner"]["OwningAccount"]) for zone in listed) == [
        ("orders.internal.", DEFAULT_ACCOUNT), ("partner.internal.", "444455556666")]
    assert [zone["Name"] for zone in plain] == ["orders.internal."]
