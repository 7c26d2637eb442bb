"""A database shared as a VPC resource (emulator/strict/lattice/): the customer account shares a
resource configuration for its RDS database with the Nekt account, Nekt accepts and makes a resource
endpoint, and everything is deleted in reverse; then each of AWS's rules refusing what AWS refuses, and,
relaxed, what plain moto (or a laxer reading) would have let through. docs/aws-fidelity.md, "PrivateLink
for VPC resources", gives each rule's source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator.stack import DEFAULT_ACCOUNT
from emulator.strict import StrictAws
from emulator.strict.lattice import LatticeBook, Timing
from emulator.strict.network import share_vpc
from emulator.strict.shapes import ShapeError, check_output
from emulator.topology import CustomerDatabase, account_session, create_database

REGION = "us-east-1"
CUSTOMER = DEFAULT_ACCOUNT
NEKT = "111111111111"
STRANGER = "333333333333"


def client(service: str, account: str = CUSTOMER, region: str = REGION) -> Any:
    session: Any = account_session(account, region)
    return session.client(service)


def code_of(raised: pytest.ExceptionInfo[ClientError]) -> str:
    return str(raised.value.response["Error"]["Code"])


def book(strict: StrictAws) -> LatticeBook:
    return strict.rule("vpc-lattice-api").book  # type: ignore[attr-defined]


@dataclass
class Consumer:
    """Nekt's side: a VPC with one subnet per zone (by default /24s in zones a and b)."""

    vpc_id: str
    subnet_ids: list[str]
    group_id: str


def consumer_vpc(zones: tuple[str, ...] = ("a", "b"), prefix: int = 24, account: str = NEKT,
                 region: str = REGION, dns: bool = False) -> Consumer:
    ec2 = client("ec2", account, region)
    vpc_id = ec2.create_vpc(CidrBlock="10.100.0.0/16")["Vpc"]["VpcId"]
    if dns:
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    size = 2 ** (32 - prefix)
    subnets = [ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.100.{index}.0/{prefix}" if prefix <= 24 else
                                 f"10.100.0.{index * size}/{prefix}", AvailabilityZone=f"{region}{zone}")[
        "Subnet"]["SubnetId"] for index, zone in enumerate(zones)]
    group = ec2.create_security_group(GroupName="nekt-endpoint", Description="endpoint", VpcId=vpc_id)["GroupId"]
    return Consumer(vpc_id, subnets, group)


def cluster_db(identifier: str = "orders-db", **extra: Any) -> CustomerDatabase:
    """An Aurora PostgreSQL cluster with one instance, in REGION."""
    return create_database(identifier, region=REGION, kind="cluster", engine="postgresql", **extra)


def gateway_for(db: CustomerDatabase, name: str = "orders-db-gateway", subnets: int = 2) -> str:
    lattice = client("vpc-lattice", db.account_id, db.region)
    gateway_id = str(lattice.create_resource_gateway(name=name, vpcIdentifier=db.vpc_id,
                                                     subnetIds=db.subnet_ids[:subnets])["id"])
    await_gateway(lattice, gateway_id, "ACTIVE")
    return gateway_id


def await_gateway(lattice: Any, gateway_id: str, status: str, polls: int = 10) -> None:
    for _ in range(polls):
        if lattice.get_resource_gateway(resourceGatewayIdentifier=gateway_id)["status"] == status:
            return
    raise AssertionError(f"{gateway_id} never {status}")


def cluster_configuration(db: CustomerDatabase, gateway_id: str, name: str = "orders-db",
                          wait: bool = True) -> dict[str, Any]:
    """An ARN configuration of the cluster; with `wait`, polled until ACTIVE (its create is asynchronous)."""
    arn = f"arn:aws:rds:{db.region}:{db.account_id}:cluster:{db.identifier}"
    lattice = client("vpc-lattice", db.account_id, db.region)
    created = dict(lattice.create_resource_configuration(
        name=name, type="ARN", resourceGatewayIdentifier=gateway_id,
        resourceConfigurationDefinition={"arnResource": {"arn": arn}}))
    if wait:
        await_configuration(lattice, created["id"], "ACTIVE")
    return created


def await_configuration(lattice: Any, configuration_id: str, status: str, polls: int = 10) -> None:
    for _ in range(polls):
        if lattice.get_resource_configuration(resourceConfigurationIdentifier=configuration_id)["status"] == status:
            return
    raise AssertionError(f"{configuration_id} never {status}")


def await_configuration_gone(lattice: Any, configuration_id: str, polls: int = 10) -> None:
    """A deleted configuration is DELETE_IN_PROGRESS for a while: its gateway cannot go before it is gone."""
    for _ in range(polls):
        try:
            lattice.get_resource_configuration(resourceConfigurationIdentifier=configuration_id)
        except ClientError as gone:
            assert gone.response["Error"]["Code"] == "ResourceNotFoundException"
            return
    raise AssertionError(f"{configuration_id} never gone")


def share_with_nekt(configuration_arn: str, account: str = CUSTOMER) -> tuple[str, str]:
    """(share ARN, Nekt's invitation ARN), once the configuration's association is ASSOCIATED."""
    ram = client("ram", account)
    share = ram.create_resource_share(name="nekt-orders-db", resourceArns=[configuration_arn],
                                      principals=[NEKT])["resourceShare"]
    for _ in range(10):
        if ram.get_resource_share_associations(associationType="RESOURCE", resourceShareArns=[
                share["resourceShareArn"]])["resourceShareAssociations"][0]["status"] == "ASSOCIATED":
            break
    invitation = client("ram", NEKT).get_resource_share_invitations(resourceShareArns=[share["resourceShareArn"]])[
        "resourceShareInvitations"][0]
    return str(share["resourceShareArn"]), str(invitation["resourceShareInvitationArn"])


def shared_configuration(db: CustomerDatabase) -> str:
    """A cluster's configuration, shared with Nekt and accepted: its ARN."""
    configuration = cluster_configuration(db, gateway_for(db))
    _, invitation = share_with_nekt(configuration["arn"])
    client("ram", NEKT).accept_resource_share_invitation(resourceShareInvitationArn=invitation)
    return str(configuration["arn"])


def resource_endpoint(consumer: Consumer, configuration_arn: str, **extra: Any) -> dict[str, Any]:
    return dict(client("ec2", NEKT).create_vpc_endpoint(
        VpcEndpointType="Resource", VpcId=consumer.vpc_id, SubnetIds=consumer.subnet_ids,
        SecurityGroupIds=[consumer.group_id], ResourceConfigurationArn=configuration_arn, **extra)["VpcEndpoint"])


def endpoint_state(endpoint_id: str) -> dict[str, Any]:
    return dict(client("ec2", NEKT).describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0])


# --- the whole path, across two accounts -----------------------------------------------------------


def test_a_customer_shares_its_cluster_with_nekt_which_reaches_it_through_a_resource_endpoint(
        strict: StrictAws) -> None:
    db = cluster_db()
    lattice, ram = client("vpc-lattice"), client("ram")

    created = lattice.create_resource_gateway(name="orders-db-gateway", vpcIdentifier=db.vpc_id,
                                              subnetIds=db.subnet_ids[:2], tags={"nekt:managed-by": "nekt-peering"})
    assert created["status"] == "CREATE_IN_PROGRESS" and created["securityGroupIds"]  # the VPC's default group
    assert lattice.get_resource_gateway(resourceGatewayIdentifier=created["id"])["status"] == "CREATE_IN_PROGRESS"
    assert lattice.get_resource_gateway(resourceGatewayIdentifier=created["arn"])["status"] == "ACTIVE"
    with pytest.raises(ClientError) as other_account:  # per account
        client("vpc-lattice", NEKT).get_resource_gateway(resourceGatewayIdentifier=created["id"])
    assert code_of(other_account) == "ResourceNotFoundException"

    configuration = cluster_configuration(db, created["id"], wait=False)
    assert (configuration["status"], configuration["type"], configuration["resourceGatewayId"]) == (
        "CREATE_IN_PROGRESS", "ARN", created["id"])  # asynchronous, as its status enum allows
    with pytest.raises(ClientError) as too_soon:
        ram.create_resource_share(name="too-soon", resourceArns=[configuration["arn"]], principals=[NEKT])
    assert code_of(too_soon) == "InvalidParameterException"
    assert lattice.get_resource_configuration(resourceConfigurationIdentifier=configuration["id"])[
        "status"] == "CREATE_IN_PROGRESS"
    assert lattice.get_resource_configuration(resourceConfigurationIdentifier=configuration["id"])[
        "status"] == "ACTIVE"
    listed = lattice.list_resource_configurations(resourceGatewayIdentifier=created["id"])["items"]
    children = [item for item in listed if item["id"] != configuration["id"]]
    assert [item["id"] for item in listed if item["type"] == "ARN"] == [configuration["id"]]
    assert {(child["type"], child["amazonManaged"], child["resourceConfigurationGroupId"]) for child in children} == {
        ("CHILD", True, configuration["id"])}  # one per cluster endpoint, made by AWS
    cluster = client("rds").describe_db_clusters(DBClusterIdentifier=db.identifier)["DBClusters"][0]
    assert sorted(lattice.get_resource_configuration(resourceConfigurationIdentifier=child["id"])[
        "customDomainName"] for child in children) == sorted([cluster["Endpoint"], cluster["ReaderEndpoint"]])
    assert client("vpc-lattice", NEKT).list_resource_configurations()["items"] == []

    share = ram.create_resource_share(name="nekt-orders-db", resourceArns=[configuration["arn"]],
                                      principals=[NEKT])["resourceShare"]
    assert share["status"] == "ACTIVE" and share["owningAccountId"] == CUSTOMER
    resource = ram.get_resource_share_associations(associationType="RESOURCE")["resourceShareAssociations"]
    assert [a["status"] for a in resource] == ["ASSOCIATING"]  # then ASSOCIATED, at a later look
    assert ram.get_resource_share_associations(associationType="RESOURCE")["resourceShareAssociations"][0][
        "status"] == "ASSOCIATED"
    principal = ram.get_resource_share_associations(associationType="PRINCIPAL")["resourceShareAssociations"]
    assert [(a["associatedEntity"], a["status"]) for a in principal] == [(NEKT, "ASSOCIATING")]

    nekt_ram, nekt_ec2, nekt_lattice = client("ram", NEKT), client("ec2", NEKT), client("vpc-lattice", NEKT)
    consumer = consumer_vpc()
    with pytest.raises(ClientError) as not_accepted:  # the invitation is pending
        resource_endpoint(consumer, configuration["arn"])
    assert code_of(not_accepted) == "InvalidParameter" and "accept it first" in str(not_accepted.value)
    with pytest.raises(ClientError) as invisible:
        nekt_lattice.get_resource_configuration(resourceConfigurationIdentifier=configuration["arn"])
    assert code_of(invisible) == "ResourceNotFoundException"

    invitations = nekt_ram.get_resource_share_invitations()["resourceShareInvitations"]
    assert [(i["senderAccountId"], i["receiverAccountId"], i["status"]) for i in invitations] == [
        (CUSTOMER, NEKT, "PENDING")]
    assert client("ram", STRANGER).get_resource_share_invitations()["resourceShareInvitations"] == []
    accepted = nekt_ram.accept_resource_share_invitation(
        resourceShareInvitationArn=invitations[0]["resourceShareInvitationArn"])["resourceShareInvitation"]
    assert accepted["status"] == "ACCEPTED"
    assert ram.get_resource_share_associations(associationType="PRINCIPAL", principal=NEKT)[
        "resourceShareAssociations"][0]["status"] == "ASSOCIATED"
    assert [s["resourceShareArn"] for s in nekt_ram.get_resource_shares(resourceOwner="OTHER-ACCOUNTS")[
        "resourceShares"]] == [share["resourceShareArn"]]
    assert nekt_lattice.get_resource_configuration(resourceConfigurationIdentifier=configuration["arn"])[
        "id"] == configuration["id"]

    endpoint = resource_endpoint(consumer, configuration["arn"], TagSpecifications=[
        {"ResourceType": "vpc-endpoint", "Tags": [{"Key": "Name", "Value": "nekt-orders-db"}]}])
    assert (endpoint["VpcEndpointType"], endpoint["State"], endpoint["ResourceConfigurationArn"]) == (
        "Resource", "Pending", configuration["arn"])
    assert "DnsEntries" not in endpoint and endpoint["Groups"][0]["GroupId"] == consumer.group_id
    assert endpoint_state(endpoint["VpcEndpointId"])["State"] == "Pending"
    available = endpoint_state(endpoint["VpcEndpointId"])
    assert available["State"] == "Available"
    assert "DnsEntries" not in available  # documented for interface endpoints only: the names are elsewhere
    associations = nekt_ec2.describe_vpc_endpoint_associations(VpcEndpointIds=[endpoint["VpcEndpointId"]])[
        "VpcEndpointAssociations"]
    assert sorted(a["AssociatedResourceArn"] for a in associations) == sorted(child["arn"] for child in children)
    for association in associations:  # one DNS name per cluster endpoint
        dns_name = association["DnsEntry"]["DnsName"]
        assert association["AssociatedResourceAccessibility"] == "Accessible" and "PrivateDnsEntry" not in association
        assert dns_name.startswith(f"{endpoint['VpcEndpointId']}.rcfg-")
        assert dns_name.endswith(f".vpc-lattice-rsc.{REGION}.on.aws")
    assert client("ec2").describe_vpc_endpoint_associations()["VpcEndpointAssociations"] == []  # per account

    # Deleted in reverse: the endpoint, the share, the configuration, the gateway.
    nekt_ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
    assert endpoint_state(endpoint["VpcEndpointId"])["State"] == "Deleting"
    assert endpoint_state(endpoint["VpcEndpointId"])["State"] == "Deleted"
    assert ram.delete_resource_share(resourceShareArn=share["resourceShareArn"])["returnValue"] is True
    assert nekt_ram.get_resource_shares(resourceOwner="OTHER-ACCOUNTS")["resourceShares"] == []
    lattice.delete_resource_configuration(resourceConfigurationIdentifier=configuration["id"])
    with pytest.raises(ClientError) as still_there:  # the configuration is being deleted: still on the gateway
        lattice.delete_resource_gateway(resourceGatewayIdentifier=created["id"])
    assert code_of(still_there) == "ConflictException"
    await_configuration(lattice, configuration["id"], "DELETE_IN_PROGRESS")
    with pytest.raises(ClientError) as configuration_gone:
        lattice.get_resource_configuration(resourceConfigurationIdentifier=configuration["id"])
    assert code_of(configuration_gone) == "ResourceNotFoundException"
    assert lattice.list_resource_configurations()["items"] == []  # its children went with it
    deleting = lattice.delete_resource_gateway(resourceGatewayIdentifier=created["id"])
    assert deleting["status"] == "DELETE_IN_PROGRESS"
    assert lattice.get_resource_gateway(resourceGatewayIdentifier=created["id"])["status"] == "DELETE_IN_PROGRESS"
    with pytest.raises(ClientError) as gone:
        lattice.get_resource_gateway(resourceGatewayIdentifier=created["id"])
    assert code_of(gone) == "ResourceNotFoundException"
    assert lattice.list_resource_gateways()["items"] == []


def test_plain_moto_implements_none_of_it(strict: StrictAws) -> None:
    db = cluster_db()
    with strict.relax("vpc-lattice-api"), pytest.raises(ClientError) as lattice:
        client("vpc-lattice").create_resource_gateway(name="orders-db-gateway", vpcIdentifier=db.vpc_id,
                                                      subnetIds=db.subnet_ids[:1])
    assert "not yet implemented" in str(lattice.value).lower()
    with strict.relax("ram-resource-shares", "ram-shareable"), pytest.raises(ClientError) as ram:
        client("ram").create_resource_share(name="s", principals=[NEKT], resourceArns=[
            f"arn:aws:vpc-lattice:{REGION}:{CUSTOMER}:resourceconfiguration/rcfg-0123456789abcdef0"])
    assert code_of(ram) == "MalformedArnException"


def test_a_slower_lifecycle_takes_more_polls_and_relaxed_everything_is_ready_at_once(strict: StrictAws) -> None:
    db = cluster_db()
    lattice = client("vpc-lattice")
    book(strict).timing = Timing(gateway_creating=3)
    slow = lattice.create_resource_gateway(name="slow", vpcIdentifier=db.vpc_id, subnetIds=db.subnet_ids[:1])["id"]
    statuses = [lattice.get_resource_gateway(resourceGatewayIdentifier=slow)["status"] for _ in range(4)]
    assert statuses == ["CREATE_IN_PROGRESS"] * 3 + ["ACTIVE"]
    with strict.relax("lattice-lifecycle"):
        quick = lattice.create_resource_gateway(name="quick", vpcIdentifier=db.vpc_id, subnetIds=db.subnet_ids[:1])
        assert quick["status"] == "ACTIVE"


# --- resource gateways ---------------------------------------------------------------------------


def test_a_resource_gateway_is_not_made_in_a_shared_subnet(strict: StrictAws) -> None:
    owner = "222222222222"
    db = create_database(region=REGION, account_id=owner)
    share_vpc(owner, REGION, db.vpc_id, CUSTOMER)
    request = {"name": "in-shared", "vpcIdentifier": db.vpc_id, "subnetIds": db.subnet_ids[:1]}
    with pytest.raises(ClientError) as refused:
        client("vpc-lattice").create_resource_gateway(**request)
    assert code_of(refused) == "ValidationException" and "shared subnet" in str(refused.value)
    with strict.relax("resource-gateway-subnets"):
        client("vpc-lattice").create_resource_gateway(**request)


def test_a_resource_gateway_s_subnets_and_security_groups_are_in_its_vpc(strict: StrictAws) -> None:
    db = create_database(region=REGION)
    other = consumer_vpc(account=CUSTOMER)
    lattice = client("vpc-lattice")
    for request in ({"subnetIds": other.subnet_ids[:1]},
                    {"subnetIds": db.subnet_ids[:1], "securityGroupIds": [other.group_id]}):
        with pytest.raises(ClientError) as refused:
            lattice.create_resource_gateway(name="misplaced", vpcIdentifier=db.vpc_id, **request)
        assert code_of(refused) == "ValidationException"
    with strict.relax("resource-gateway-subnets"):
        lattice.create_resource_gateway(name="misplaced", vpcIdentifier=db.vpc_id, subnetIds=other.subnet_ids[:1])


def test_resource_gateways_per_vpc_and_unique_names(strict: StrictAws) -> None:
    db = create_database(region=REGION)
    lattice = client("vpc-lattice")
    book(strict).limits["resource-gateways-per-vpc"] = 1
    lattice.create_resource_gateway(name="first", vpcIdentifier=db.vpc_id, subnetIds=db.subnet_ids[:1])
    with pytest.raises(ClientError) as quota:
        lattice.create_resource_gateway(name="second", vpcIdentifier=db.vpc_id, subnetIds=db.subnet_ids[:1])
    assert code_of(quota) == "ServiceQuotaExceededException"
    with strict.relax("resource-gateway-quota"), pytest.raises(ClientError) as name:
        lattice.create_resource_gateway(name="first", vpcIdentifier=db.vpc_id, subnetIds=db.subnet_ids[:1])
    assert code_of(name) == "ConflictException"
    with strict.relax("resource-gateway-quota", "lattice-unique-names"):
        lattice.create_resource_gateway(name="first", vpcIdentifier=db.vpc_id, subnetIds=db.subnet_ids[:1])


def test_a_resource_gateway_takes_its_addresses_in_each_subnet_until_it_is_gone(strict: StrictAws) -> None:
    """Each of its network interfaces holds ipv4AddressesPerEni addresses (16 by default), not contiguous."""
    db = create_database(region=REGION)
    ec2, lattice = client("ec2"), client("vpc-lattice")
    subnet = db.subnet_ids[0]

    def free() -> int:
        return int(ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["AvailableIpAddressCount"])

    before = free()
    ec2.create_network_interface(SubnetId=subnet, SecondaryPrivateIpAddressCount=before - 30)  # 29 left
    gateway_id = lattice.create_resource_gateway(name="first", vpcIdentifier=db.vpc_id, subnetIds=[subnet])["id"]
    assert free() == 29 - 16
    with pytest.raises(ClientError) as full:
        lattice.create_resource_gateway(name="second", vpcIdentifier=db.vpc_id, subnetIds=[subnet])
    assert code_of(full) == "ValidationException" and "13 free IPv4 addresses" in str(full.value)
    small = lattice.create_resource_gateway(name="small", vpcIdentifier=db.vpc_id, subnetIds=[subnet],
                                            ipv4AddressesPerEni=4)
    assert free() == 29 - 16 - 4
    await_gateway(lattice, gateway_id, "ACTIVE")
    lattice.delete_resource_gateway(resourceGatewayIdentifier=gateway_id)
    with pytest.raises(ClientError):
        await_gateway(lattice, gateway_id, "GONE")
    assert free() == 29 - 4
    with strict.relax("resource-gateway-addresses"):
        lattice.create_resource_gateway(name="relaxed", vpcIdentifier=db.vpc_id, subnetIds=[subnet],
                                        ipv4AddressesPerEni=100)
    assert free() == 29 - 4 and small["ipv4AddressesPerEni"] == 4


def test_a_configuration_needs_an_active_gateway_and_a_gateway_with_configurations_stays(strict: StrictAws) -> None:
    db = cluster_db()
    lattice = client("vpc-lattice")
    creating = lattice.create_resource_gateway(name="creating", vpcIdentifier=db.vpc_id,
                                               subnetIds=db.subnet_ids[:1])["id"]
    with pytest.raises(ClientError) as not_active:
        cluster_configuration(db, creating)
    assert code_of(not_active) == "ConflictException"
    with pytest.raises(ClientError) as still_creating:
        lattice.delete_resource_gateway(resourceGatewayIdentifier=creating)
    assert code_of(still_creating) == "ConflictException"
    with strict.relax("resource-gateway-state"):
        configuration = cluster_configuration(db, creating)
    with strict.relax("resource-gateway-state"), pytest.raises(ClientError) as in_use:
        lattice.delete_resource_gateway(resourceGatewayIdentifier=creating)
    assert code_of(in_use) == "ConflictException" and configuration["id"] in str(in_use.value)
    with strict.relax("resource-gateway-in-use", "resource-gateway-state"):
        assert lattice.delete_resource_gateway(resourceGatewayIdentifier=creating)["status"] == "DELETE_IN_PROGRESS"


def test_the_owner_lists_the_tags_of_its_gateways_and_configurations(strict: StrictAws) -> None:
    db = cluster_db()
    lattice = client("vpc-lattice")
    gateway = lattice.create_resource_gateway(name="tagged", vpcIdentifier=db.vpc_id, subnetIds=db.subnet_ids[:1],
                                              tags={"nekt:connection-id": "orders-db"})
    await_gateway(lattice, gateway["id"], "ACTIVE")
    configuration = cluster_configuration(db, gateway["id"])
    assert lattice.list_tags_for_resource(resourceArn=gateway["arn"])["tags"] == {"nekt:connection-id": "orders-db"}
    assert lattice.list_tags_for_resource(resourceArn=configuration["arn"])["tags"] == {}
    # API_CreateResourceConfiguration: allowAssociationToShareableServiceNetwork "The default is false".
    assert configuration["allowAssociationToShareableServiceNetwork"] is False
    with pytest.raises(ClientError) as other_account:
        client("vpc-lattice", NEKT).list_tags_for_resource(resourceArn=gateway["arn"])
    assert code_of(other_account) == "ResourceNotFoundException"


# --- resource configurations ----------------------------------------------------------------------


@pytest.mark.parametrize("request_", [
    {"type": "ARN", "resourceConfigurationDefinition": {"dnsResource": {"domainName": "db.example.com",
                                                                        "ipAddressType": "IPV4"}}},
    {"type": "SINGLE", "resourceConfigurationDefinition": {"ipResource": {"ipAddress": "52.1.2.3"}}},
    {"type": "SINGLE", "protocol": "TCP_UDP",
     "resourceConfigurationDefinition": {"ipResource": {"ipAddress": "10.0.1.10"}}},
    {"type": "SINGLE", "portRanges": ["5432-70000"],
     "resourceConfigurationDefinition": {"ipResource": {"ipAddress": "10.0.1.10"}}},
    {"type": "GROUP", "resourceConfigurationDefinition": {"ipResource": {"ipAddress": "10.0.1.10"}}},
    {"type": "SINGLE", "resourceConfigurationDefinition": {"ipResource": {"ipAddress": "172.16.0.10"}}},
], ids=["arn-with-a-dns-name", "public-ip", "udp", "port-out-of-range", "group-with-a-definition",
        "private-ip-outside-the-vpc"])
def test_each_type_of_configuration_takes_its_own_definition(strict: StrictAws, request_: dict[str, Any]) -> None:
    db = create_database(region=REGION)
    gateway_id = gateway_for(db)
    lattice = client("vpc-lattice")
    with pytest.raises(ClientError) as refused:
        lattice.create_resource_configuration(name="bad", resourceGatewayIdentifier=gateway_id, **request_)
    assert code_of(refused) == "ValidationException"
    with strict.relax("resource-configuration-definition"):
        lattice.create_resource_configuration(name="bad", resourceGatewayIdentifier=gateway_id, **request_)


def test_a_database_on_an_instance_is_shared_by_its_private_address_in_the_gateway_s_vpc(strict: StrictAws) -> None:
    db = create_database(region=REGION)
    created = client("vpc-lattice").create_resource_configuration(
        name="warehouse", type="SINGLE", resourceGatewayIdentifier=gateway_for(db), portRanges=["5432"],
        resourceConfigurationDefinition={"ipResource": {"ipAddress": "10.0.1.10"}})
    assert (created["type"], created["portRanges"]) == ("SINGLE", ["5432"])


def test_a_database_shared_by_its_endpoint_and_port_is_a_single_dns_configuration(strict: StrictAws) -> None:
    db = create_database(region=REGION)
    created = client("vpc-lattice").create_resource_configuration(
        name="orders-db", type="SINGLE", resourceGatewayIdentifier=gateway_for(db), portRanges=["5432"],
        resourceConfigurationDefinition={"dnsResource": {
            "domainName": f"orders-db.aaaaaaaaaa.{REGION}.rds.amazonaws.com", "ipAddressType": "IPV4"}})
    assert (created["type"], created["portRanges"], created["protocol"]) == ("SINGLE", ["5432"], "TCP")


def test_an_arn_configuration_is_for_an_rds_database_in_the_gateway_s_vpc(strict: StrictAws) -> None:
    db = cluster_db()
    elsewhere = cluster_db("billing-db", cidr="10.1.0.0/16")
    gateway_id = gateway_for(db)
    lattice = client("vpc-lattice")
    for arn, code in [(f"arn:aws:ec2:{REGION}:{CUSTOMER}:instance/i-0123456789abcdef0", "ValidationException"),
                      (f"arn:aws:rds:{REGION}:{CUSTOMER}:cluster:no-such-db", "ResourceNotFoundException"),
                      (f"arn:aws:rds:{REGION}:{CUSTOMER}:cluster:billing-db", "ValidationException")]:
        with pytest.raises(ClientError) as refused:
            lattice.create_resource_configuration(name="bad", type="ARN", resourceGatewayIdentifier=gateway_id,
                                                  resourceConfigurationDefinition={"arnResource": {"arn": arn}})
        assert code_of(refused) == code, arn
    assert elsewhere.vpc_id != db.vpc_id
    with strict.relax("arn-resource-rds"):
        lattice.create_resource_configuration(
            name="any-arn", type="ARN", resourceGatewayIdentifier=gateway_id, resourceConfigurationDefinition={
                "arnResource": {"arn": f"arn:aws:rds:{REGION}:{CUSTOMER}:cluster:billing-db"}})


def test_a_publicly_accessible_cluster_cannot_be_a_resource_configuration(strict: StrictAws) -> None:
    db = cluster_db(publicly_accessible=True)
    gateway_id = gateway_for(db)
    with pytest.raises(ClientError) as refused:
        cluster_configuration(db, gateway_id)
    assert code_of(refused) == "ValidationException" and "publicly accessible" in str(refused.value)
    with strict.relax("arn-resource-not-public"):
        cluster_configuration(db, gateway_id)


def test_an_rds_instance_arn_is_refused_as_undocumented(strict: StrictAws) -> None:
    db = create_database(region=REGION, kind="instance")
    gateway_id = gateway_for(db)
    request = {"name": "orders-db", "type": "ARN", "resourceGatewayIdentifier": gateway_id,
               "resourceConfigurationDefinition": {"arnResource": {
                   "arn": f"arn:aws:rds:{REGION}:{CUSTOMER}:db:{db.identifier}"}}}
    with pytest.raises(ClientError) as refused:
        client("vpc-lattice").create_resource_configuration(**request)
    assert code_of(refused) == "ValidationException" and "DB instance" in str(refused.value)
    with strict.relax("arn-resource-cluster-only"):
        client("vpc-lattice").create_resource_configuration(**request)


def test_a_configuration_with_a_live_endpoint_is_not_deleted(strict: StrictAws) -> None:
    db = cluster_db()
    arn = shared_configuration(db)
    resource_endpoint(consumer_vpc(), arn)
    with pytest.raises(ClientError) as in_use:
        client("vpc-lattice").delete_resource_configuration(resourceConfigurationIdentifier=arn)
    assert code_of(in_use) == "ConflictException"
    with strict.relax("resource-configuration-in-use"):
        client("vpc-lattice").delete_resource_configuration(resourceConfigurationIdentifier=arn)


# --- RAM ----------------------------------------------------------------------------------------


def test_ram_shares_only_the_caller_s_own_configurations_and_never_a_child(strict: StrictAws) -> None:
    db = create_database(region=REGION)
    lattice = client("vpc-lattice")
    gateway_id = gateway_for(db)
    group = lattice.create_resource_configuration(name="group", type="GROUP", resourceGatewayIdentifier=gateway_id)
    await_configuration(lattice, group["id"], "ACTIVE")
    child = lattice.create_resource_configuration(
        name="child", type="CHILD", resourceConfigurationGroupIdentifier=group["id"],
        resourceConfigurationDefinition={"ipResource": {"ipAddress": "10.0.1.10"}})
    await_configuration(lattice, child["id"], "ACTIVE")
    with pytest.raises(ClientError) as child_share:
        client("ram").create_resource_share(name="child", resourceArns=[child["arn"]], principals=[NEKT])
    assert code_of(child_share) == "InvalidParameterException"
    with pytest.raises(ClientError) as not_mine:
        client("ram", STRANGER).create_resource_share(name="theirs", resourceArns=[group["arn"]], principals=[NEKT])
    assert code_of(not_mine) == "UnknownResourceException"
    with pytest.raises(ClientError) as other_region:
        client("ram", region="us-east-2").create_resource_share(name="far", resourceArns=[group["arn"]])
    assert code_of(other_region) == "UnknownResourceException"
    with pytest.raises(ClientError) as internal_only:
        client("ram").create_resource_share(name="internal", resourceArns=[group["arn"]], principals=[NEKT],
                                            allowExternalPrincipals=False)
    assert code_of(internal_only) == "OperationNotPermittedException"
    with strict.relax("ram-shareable"):
        client("ram").create_resource_share(name="child", resourceArns=[child["arn"]], principals=[NEKT])


def test_only_the_invited_account_accepts_once_and_within_an_organization_there_is_no_invitation(
        strict: StrictAws) -> None:
    db = cluster_db()
    configuration = cluster_configuration(db, gateway_for(db))
    _, invitation = share_with_nekt(configuration["arn"])
    with pytest.raises(ClientError) as stranger:
        client("ram", STRANGER).accept_resource_share_invitation(resourceShareInvitationArn=invitation)
    assert code_of(stranger) == "ResourceShareInvitationArnNotFoundException"
    client("ram", NEKT).accept_resource_share_invitation(resourceShareInvitationArn=invitation)
    with pytest.raises(ClientError) as twice:
        client("ram", NEKT).accept_resource_share_invitation(resourceShareInvitationArn=invitation)
    assert code_of(twice) == "ResourceShareInvitationAlreadyAcceptedException"

    book(strict).organization_sharing |= {CUSTOMER, NEKT}
    other = client("vpc-lattice").create_resource_configuration(
        name="other", type="SINGLE", resourceGatewayIdentifier=configuration["resourceGatewayId"],
        resourceConfigurationDefinition={"ipResource": {"ipAddress": "10.0.1.10"}})
    await_configuration(client("vpc-lattice"), other["id"], "ACTIVE")
    share = client("ram").create_resource_share(name="in-org", resourceArns=[other["arn"]], principals=[NEKT])
    arn = share["resourceShare"]["resourceShareArn"]
    assert client("ram", NEKT).get_resource_share_invitations(resourceShareArns=[arn])[
        "resourceShareInvitations"] == []
    assert client("ram").get_resource_share_associations(associationType="PRINCIPAL", resourceShareArns=[arn])[
        "resourceShareAssociations"][0]["status"] == "ASSOCIATED"


def test_shares_are_found_by_their_tags(strict: StrictAws) -> None:
    db = cluster_db()
    configuration = cluster_configuration(db, gateway_for(db))
    ram = client("ram")
    for name in ("first", "second"):
        ram.create_resource_share(name=name, resourceArns=[configuration["arn"]], principals=[NEKT],
                                  tags=[{"key": "nekt:connection-id", "value": name}])
    found = ram.get_resource_shares(resourceOwner="SELF", tagFilters=[
        {"tagKey": "nekt:connection-id", "tagValues": ["second"]}])["resourceShares"]
    assert [share["name"] for share in found] == ["second"]
    assert len(ram.get_resource_shares(resourceOwner="SELF", tagFilters=[
        {"tagKey": "nekt:connection-id"}])["resourceShares"]) == 2
    assert ram.get_resource_shares(resourceOwner="SELF", tagFilters=[
        {"tagKey": "other", "tagValues": ["second"]}])["resourceShares"] == []


def test_a_disassociated_consumer_loses_the_configuration(strict: StrictAws) -> None:
    db = cluster_db()
    configuration = cluster_configuration(db, gateway_for(db))
    share, invitation = share_with_nekt(configuration["arn"])
    client("ram", NEKT).accept_resource_share_invitation(resourceShareInvitationArn=invitation)
    changed = client("ram").disassociate_resource_share(resourceShareArn=share, principals=[NEKT])
    assert [(a["associatedEntity"], a["status"]) for a in changed["resourceShareAssociations"]] == [
        (NEKT, "DISASSOCIATED")]
    with pytest.raises(ClientError) as unshared:
        resource_endpoint(consumer_vpc(), configuration["arn"])
    assert code_of(unshared) == "InvalidParameter"


# --- the resource endpoint ----------------------------------------------------------------------------


def test_a_resource_endpoint_uses_a_configuration_of_its_own_region_not_a_child(strict: StrictAws) -> None:
    db = cluster_db()
    arn = shared_configuration(db)
    far = consumer_vpc(region="us-east-2")
    with pytest.raises(ClientError) as other_region:
        client("ec2", NEKT, "us-east-2").create_vpc_endpoint(
            VpcEndpointType="Resource", VpcId=far.vpc_id, SubnetIds=far.subnet_ids, ResourceConfigurationArn=arn)
    assert code_of(other_region) == "InvalidParameter" and "Region" in str(other_region.value)
    with pytest.raises(ClientError) as never_shared:
        resource_endpoint(consumer_vpc(), arn.replace(arn.rsplit("/", 1)[1], "rcfg-0123456789abcdef0"))
    assert code_of(never_shared) == "InvalidParameter"


def test_the_endpoint_and_the_gateway_share_an_availability_zone_by_zone_id(strict: StrictAws) -> None:
    db = cluster_db()  # the gateway in zones a and b
    arn = shared_configuration(db)
    only_c = consumer_vpc(zones=("c",))
    with pytest.raises(ClientError) as apart:
        resource_endpoint(only_c, arn)
    assert code_of(apart) == "InvalidParameter" and "do not overlap" in str(apart.value)
    with strict.relax("resource-endpoint-zones"):
        resource_endpoint(only_c, arn)


def test_one_subnet_per_zone_in_the_endpoint_s_vpc(strict: StrictAws) -> None:
    db = cluster_db()
    arn = shared_configuration(db)
    twice_a = consumer_vpc(zones=("a", "a"))
    with pytest.raises(ClientError) as same_zone:
        resource_endpoint(twice_a, arn)
    assert code_of(same_zone) == "DuplicateSubnetsInSameZone"
    with strict.relax("resource-endpoint-subnets"):
        resource_endpoint(twice_a, arn)


def test_each_endpoint_takes_sixteen_contiguous_free_addresses_in_each_subnet(strict: StrictAws) -> None:
    db = cluster_db()
    arn = shared_configuration(db)
    small = consumer_vpc(zones=("a",), prefix=27)  # 32 addresses, 27 usable: room for one block of 16
    before = client("ec2", NEKT).describe_subnets(SubnetIds=small.subnet_ids)["Subnets"][0]["AvailableIpAddressCount"]
    resource_endpoint(small, arn)
    after = client("ec2", NEKT).describe_subnets(SubnetIds=small.subnet_ids)["Subnets"][0]["AvailableIpAddressCount"]
    assert before - after == 16
    with pytest.raises(ClientError) as full:
        resource_endpoint(small, arn)
    assert code_of(full) == "InsufficientFreeAddressesInSubnet"
    with strict.relax("resource-endpoint-addresses"):
        resource_endpoint(small, arn)


def test_private_dns_needs_the_vpc_s_dns_attributes_and_gives_the_cluster_s_own_name(strict: StrictAws) -> None:
    db = cluster_db()
    arn = shared_configuration(db)
    with pytest.raises(ClientError) as no_dns:
        resource_endpoint(consumer_vpc(), arn, PrivateDnsEnabled=True)
    assert code_of(no_dns) == "InvalidParameter" and "enableDnsHostnames" in str(no_dns.value)
    endpoint = resource_endpoint(consumer_vpc(dns=True), arn, PrivateDnsEnabled=True)
    endpoint_state(endpoint["VpcEndpointId"])
    assert "DnsEntries" not in endpoint_state(endpoint["VpcEndpointId"])
    cluster = client("rds").describe_db_clusters(DBClusterIdentifier=db.identifier)["DBClusters"][0]
    associations = client("ec2", NEKT).describe_vpc_endpoint_associations(
        VpcEndpointIds=[endpoint["VpcEndpointId"]])["VpcEndpointAssociations"]
    assert sorted(a["PrivateDnsEntry"]["DnsName"] for a in associations) == sorted(
        [cluster["Endpoint"], cluster["ReaderEndpoint"]])  # each cluster endpoint keeps its own name
    assert all(a["DnsEntry"]["DnsName"].endswith(".on.aws") for a in associations)


def test_resource_endpoints_per_vpc(strict: StrictAws) -> None:
    db = cluster_db()
    arn = shared_configuration(db)
    consumer = consumer_vpc()
    book(strict).limits["resource-endpoints-per-vpc"] = 1
    resource_endpoint(consumer, arn)
    with pytest.raises(ClientError) as quota:
        resource_endpoint(consumer, arn)
    assert code_of(quota) == "VpcEndpointLimitExceeded"
    with strict.relax("resource-endpoint-quota"):
        resource_endpoint(consumer, arn)


def test_moto_s_own_answer_for_a_resource_endpoint_is_not_aws_s(strict: StrictAws) -> None:
    db = cluster_db()
    arn = shared_configuration(db)
    consumer = consumer_vpc()
    with strict.relax("resource-endpoints", "lattice-lifecycle"):
        plain = resource_endpoint(consumer, arn)
    assert plain["State"] == "available" and "ResourceConfigurationArn" not in plain and not plain["DnsEntries"]


# --- the answers' shapes ----------------------------------------------------------------------------


def test_an_answer_that_leaves_the_model_is_caught() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("vpc-lattice").operation_model("GetResourceGateway")
    check_output(model, {"id": "rgw-0123456789abcdef0", "status": "ACTIVE"})
    for wrong in ({"status": "READY"}, {"subnetIds": "subnet-1"}, {"createdAt": "2026-01-01"}, {"state": "ACTIVE"}):
        with pytest.raises(ShapeError):
            check_output(model, wrong)


# --- IAM: each side's role, evaluated per call -------------------------------------------------------------

TAG = {"nekt:managed-by": "nekt-peering"}
TAGGED = {"StringEquals": {"aws:RequestTag/nekt:managed-by": "nekt-peering"}}
OWNED = {"StringEquals": {"aws:ResourceTag/nekt:managed-by": "nekt-peering"}}
LATTICE = f"arn:aws:vpc-lattice:{REGION}:{CUSTOMER}"
LATTICE_ROLE = "arn:aws:iam::{account}:role/aws-service-role/vpc-lattice.amazonaws.com/AWSServiceRoleForVpcLattice"
LATTICE_SERVICE = {"StringEquals": {"iam:AWSServiceName": "vpc-lattice.amazonaws.com"}}
PROVIDER_STATEMENTS: list[dict[str, Any]] = [
    {"Action": "vpc-lattice:CreateResourceGateway", "Resource": f"{LATTICE}:resourcegateway/*", "Condition": TAGGED},
    {"Action": "vpc-lattice:TagResource", "Resource": [f"{LATTICE}:resourcegateway/*",
                                                       f"{LATTICE}:resourceconfiguration/*"],
     "Condition": {**TAGGED, "StringLike": {"vpc-lattice:CreateAction": "Create*"}}},
    {"Action": ["ec2:DescribeSecurityGroups", "ec2:DescribeVpcs"], "Resource": "*"},
    {"Action": ["vpc-lattice:GetResourceGateway", "vpc-lattice:GetResourceConfiguration"],
     "Resource": [f"{LATTICE}:resourcegateway/*", f"{LATTICE}:resourceconfiguration/*"]},
    {"Action": "ram:GetResourceShareAssociations", "Resource": "*"},
    {"Action": "vpc-lattice:CreateResourceConfiguration", "Resource": [f"{LATTICE}:resourceconfiguration/*",
                                                                     f"{LATTICE}:resourcegateway/*"],
     "Condition": TAGGED},
    # What VPC Lattice does with the caller's permissions ("Amazon VPC Lattice API permissions"), one action a
    # statement: the gateway's network interfaces, the configuration's reads, the service-linked role.
    *({"Action": action, "Resource": "*"} for action in ("ec2:DescribeSubnets", "ec2:DescribeNetworkInterfaces")),
    {"Action": "ec2:CreateNetworkInterface", "Resource": [
        f"arn:aws:ec2:{REGION}:{CUSTOMER}:{kind}/*" for kind in ("network-interface", "subnet", "security-group")]},
    *({"Action": action, "Resource": f"arn:aws:ec2:{REGION}:{CUSTOMER}:network-interface/*"} for action in (
        "ec2:CreateNetworkInterfacePermission", "ec2:AssignPrivateIpAddresses", "ec2:AssignIpv6Addresses",
        "ec2:DeleteNetworkInterface")),
    {"Action": "rds:DescribeDBClusters", "Resource": f"arn:aws:rds:{REGION}:{CUSTOMER}:cluster:orders-db"},
    {"Action": "rds:DescribeDBInstances", "Resource": f"arn:aws:rds:{REGION}:{CUSTOMER}:db:*"},
    {"Action": "iam:CreateServiceLinkedRole", "Resource": LATTICE_ROLE.format(account=CUSTOMER),
     "Condition": LATTICE_SERVICE},
    {"Action": "vpc-lattice:PutResourcePolicy", "Resource": f"{LATTICE}:resourceconfiguration/*", "Condition": OWNED},
    {"Action": "ram:CreateResourceShare", "Resource": "*", "Condition": {
        "StringEquals": {"ram:RequestedResourceType": "vpc-lattice:ResourceConfiguration",
                         "aws:RequestTag/nekt:managed-by": "nekt-peering"}}},
    {"Action": "ram:TagResource", "Resource": f"arn:aws:ram:{REGION}:{CUSTOMER}:resource-share/*", "Condition": TAGGED},
    {"Action": "ram:DeleteResourceShare", "Resource": f"arn:aws:ram:{REGION}:{CUSTOMER}:resource-share/*",
     "Condition": OWNED},
    {"Action": ["vpc-lattice:DeleteResourceConfiguration", "vpc-lattice:DeleteResourceGateway"],
     "Resource": [f"{LATTICE}:resourceconfiguration/*", f"{LATTICE}:resourcegateway/*"], "Condition": OWNED},
]
CONSUMER_STATEMENTS: list[dict[str, Any]] = [
    {"Action": "ram:GetResourceShareInvitations", "Resource": "*"},
    {"Action": "ram:AcceptResourceShareInvitation", "Resource": "arn:aws:ram:*:*:resource-share-invitation/*",
     "Condition": {"StringEquals": {"ram:ShareOwnerAccountId": CUSTOMER}}},
    {"Action": "ec2:CreateVpcEndpoint", "Resource": [f"arn:aws:ec2:{REGION}:{NEKT}:{kind}/*" for kind in (
        "vpc", "vpc-endpoint", "subnet", "security-group")]},
    {"Action": "ec2:CreateTags", "Resource": f"arn:aws:ec2:{REGION}:{NEKT}:vpc-endpoint/*",
     "Condition": {"StringEquals": {"ec2:CreateAction": "CreateVpcEndpoint"}}},
    {"Action": ["ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs", "ec2:DescribeVpcEndpoints",
                "ec2:DescribeVpcEndpointAssociations"], "Resource": "*"},
    {"Action": "ec2:DeleteVpcEndpoints", "Resource": f"arn:aws:ec2:{REGION}:{NEKT}:vpc-endpoint/*", "Condition": OWNED},
    # The account's first VPC Lattice resource: the endpoint's association with the configuration (pessimistic).
    {"Action": "iam:CreateServiceLinkedRole", "Resource": LATTICE_ROLE.format(account=NEKT),
     "Condition": LATTICE_SERVICE},
]


def role_session(account: str, name: str, statements: list[dict[str, Any]], leave_out: int | None = None) -> Any:
    """A role with one inline policy per statement (but `leave_out`), and a session that assumed it."""
    import json

    import boto3

    iam = client("iam", account)
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{CUSTOMER}:root"}, "Action": "sts:AssumeRole"}]}))
    for index, statement in enumerate(statements):
        if index != leave_out:
            iam.put_role_policy(RoleName=name, PolicyName=f"statement-{index}", PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement}]}))
    credentials = client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/{name}",
                                            RoleSessionName=name)["Credentials"]
    return boto3.Session(aws_access_key_id=credentials["AccessKeyId"], region_name=REGION,
                         aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"])


def path_as_roles(provider: Any, consumer: Any) -> None:
    """The whole path, each side as its role: gateway, configuration, share; accept, endpoint; then back."""
    db = cluster_db()
    consumer_side = consumer_vpc()
    lattice, ram = provider.client("vpc-lattice"), provider.client("ram")
    gateway_id = lattice.create_resource_gateway(name="orders-db-gateway", vpcIdentifier=db.vpc_id,
                                                 subnetIds=db.subnet_ids[:2], tags=TAG)["id"]
    await_gateway(lattice, gateway_id, "ACTIVE")
    configuration = lattice.create_resource_configuration(
        name="orders-db", type="ARN", resourceGatewayIdentifier=gateway_id, tags=TAG,
        resourceConfigurationDefinition={"arnResource": {"arn": f"arn:aws:rds:{REGION}:{CUSTOMER}:cluster:orders-db"}})
    await_configuration(lattice, configuration["id"], "ACTIVE")
    share = ram.create_resource_share(name="nekt-orders-db", resourceArns=[configuration["arn"]], principals=[NEKT],
                                      tags=[{"key": "nekt:managed-by", "value": "nekt-peering"}])["resourceShare"]
    for _ in range(2):  # ASSOCIATING, then ASSOCIATED: Nekt sees the configuration only then
        ram.get_resource_share_associations(associationType="RESOURCE")
    nekt_ram, nekt_ec2 = consumer.client("ram"), consumer.client("ec2")
    invitation = nekt_ram.get_resource_share_invitations()["resourceShareInvitations"][0]
    nekt_ram.accept_resource_share_invitation(resourceShareInvitationArn=invitation["resourceShareInvitationArn"])
    endpoint_id = nekt_ec2.create_vpc_endpoint(
        VpcEndpointType="Resource", VpcId=consumer_side.vpc_id, SubnetIds=consumer_side.subnet_ids,
        SecurityGroupIds=[consumer_side.group_id], ResourceConfigurationArn=configuration["arn"],
        TagSpecifications=[{"ResourceType": "vpc-endpoint", "Tags": [
            {"Key": "nekt:managed-by", "Value": "nekt-peering"}]}])["VpcEndpoint"]["VpcEndpointId"]
    for _ in range(3):
        nekt_ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])
    nekt_ec2.describe_vpc_endpoint_associations(VpcEndpointIds=[endpoint_id])
    nekt_ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])
    for _ in range(2):  # Deleting, then Deleted: the configuration is in use until then
        nekt_ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])
    ram.delete_resource_share(resourceShareArn=share["resourceShareArn"])
    lattice.delete_resource_configuration(resourceConfigurationIdentifier=configuration["id"])
    await_configuration_gone(lattice, configuration["id"])  # the gateway goes after it
    lattice.delete_resource_gateway(resourceGatewayIdentifier=gateway_id)


def test_each_side_s_role_is_evaluated_and_each_statement_is_needed() -> None:
    from emulator.aws import emulated_aws

    with emulated_aws():
        path_as_roles(role_session(CUSTOMER, "provider", PROVIDER_STATEMENTS),
                      role_session(NEKT, "consumer", CONSUMER_STATEMENTS))
    for side, statements in (("provider", PROVIDER_STATEMENTS), ("consumer", CONSUMER_STATEMENTS)):
        for index in range(len(statements)):
            with emulated_aws(), pytest.raises(ClientError) as refused:
                left_out = {side: index}
                path_as_roles(role_session(CUSTOMER, "provider", PROVIDER_STATEMENTS, left_out.get("provider")),
                              role_session(NEKT, "consumer", CONSUMER_STATEMENTS, left_out.get("consumer")))
            assert code_of(refused) in ("AccessDeniedException", "UnauthorizedOperation"), (side, index)
            assert "is not authorized to perform" in str(refused.value), (side, index)


def test_a_share_of_another_resource_type_or_an_untagged_gateway_is_refused_by_the_conditions() -> None:
    from emulator.aws import emulated_aws

    with emulated_aws():
        provider = role_session(CUSTOMER, "provider", PROVIDER_STATEMENTS)
        db = cluster_db()
        with pytest.raises(ClientError) as untagged:
            provider.client("vpc-lattice").create_resource_gateway(name="untagged", vpcIdentifier=db.vpc_id,
                                                                   subnetIds=db.subnet_ids[:1])
        assert code_of(untagged) == "AccessDeniedException"
        assert "vpc-lattice:CreateResourceGateway" in str(untagged.value)
        gateway_id = gateway_for(db, name="not-ours")  # made by someone else, without the tag
        with pytest.raises(ClientError) as not_ours:
            provider.client("vpc-lattice").delete_resource_gateway(resourceGatewayIdentifier=gateway_id)
        assert "vpc-lattice:DeleteResourceGateway" in str(not_ours.value)


# What VPC Lattice does with the caller's permissions, per call ("Amazon VPC Lattice API permissions", and the
# service-linked role): the statement allowing one of them is removed just before the call, which then fails
# naming it. ec2:DeleteNetworkInterface twice: CreateResourceGateway lists it, and DeleteResourceGateway.
ADDITIONAL_PERMISSIONS = [
    *(("CreateResourceGateway", action) for action in (
        "ec2:DescribeSubnets", "ec2:DescribeNetworkInterfaces", "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission", "ec2:AssignPrivateIpAddresses", "ec2:AssignIpv6Addresses",
        "ec2:DeleteNetworkInterface", "iam:CreateServiceLinkedRole")),
    *(("CreateResourceConfiguration", action) for action in (
        "ec2:DescribeSubnets", "rds:DescribeDBInstances", "rds:DescribeDBClusters")),
    ("DeleteResourceGateway", "ec2:DeleteNetworkInterface"),
]


@pytest.mark.parametrize(("operation", "action"), ADDITIONAL_PERMISSIONS)
def test_each_call_needs_what_vpc_lattice_does_with_the_caller_s_permissions(operation: str, action: str) -> None:
    from emulator.aws import emulated_aws

    def before(step: str) -> None:
        if step == operation:
            [index] = [index for index, statement in enumerate(PROVIDER_STATEMENTS) if statement["Action"] == action]
            client("iam").delete_role_policy(RoleName="provider", PolicyName=f"statement-{index}")

    with emulated_aws():
        lattice = role_session(CUSTOMER, "provider", PROVIDER_STATEMENTS).client("vpc-lattice")
        db = cluster_db()
        with pytest.raises(ClientError) as refused:
            before("CreateResourceGateway")
            gateway_id = lattice.create_resource_gateway(name="orders-db-gateway", vpcIdentifier=db.vpc_id,
                                                         subnetIds=db.subnet_ids[:2], tags=TAG)["id"]
            await_gateway(lattice, gateway_id, "ACTIVE")
            before("CreateResourceConfiguration")
            configuration = lattice.create_resource_configuration(
                name="orders-db", type="ARN", resourceGatewayIdentifier=gateway_id, tags=TAG,
                resourceConfigurationDefinition={"arnResource": {
                    "arn": f"arn:aws:rds:{REGION}:{CUSTOMER}:cluster:{db.identifier}"}})
            await_configuration(lattice, configuration["id"], "ACTIVE")
            lattice.delete_resource_configuration(resourceConfigurationIdentifier=configuration["id"])
            await_configuration_gone(lattice, configuration["id"])
            before("DeleteResourceGateway")
            lattice.delete_resource_gateway(resourceGatewayIdentifier=gateway_id)
    assert code_of(refused) == "AccessDeniedException" and refused.value.operation_name == operation
    assert f"is not authorized to perform: {action} on resource" in str(refused.value)


def test_the_service_linked_role_is_made_once_per_account_and_only_for_vpc_lattice() -> None:
    """The first Lattice resource creates AWSServiceRoleForVpcLattice with the caller's permission, conditioned on
    iam:AWSServiceName; after it exists, nobody needs that permission."""
    from emulator.aws import emulated_aws

    statements = [statement for statement in PROVIDER_STATEMENTS
                  if statement["Action"] != "iam:CreateServiceLinkedRole"]
    another_service = {"Action": "iam:CreateServiceLinkedRole", "Resource": LATTICE_ROLE.format(account=CUSTOMER),
                       "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}}
    with emulated_aws():
        lattice = role_session(CUSTOMER, "provider", [*statements, another_service]).client("vpc-lattice")
        db = cluster_db()
        with pytest.raises(ClientError) as refused:
            lattice.create_resource_gateway(name="orders-db-gateway", vpcIdentifier=db.vpc_id,
                                            subnetIds=db.subnet_ids[:2], tags=TAG)
        assert f"perform: iam:CreateServiceLinkedRole on resource: {LATTICE_ROLE.format(account=CUSTOMER)}" in str(
            refused.value)
        gateway_for(db, name="someone-else-s")  # the harness makes the account's first one: the role now exists
        role = client("iam").get_role(RoleName="AWSServiceRoleForVpcLattice")["Role"]
        assert role["Path"] == "/aws-service-role/vpc-lattice.amazonaws.com/"
        lattice.create_resource_gateway(name="orders-db-gateway", vpcIdentifier=db.vpc_id,
                                        subnetIds=db.subnet_ids[:2], tags=TAG)


# --- issue 22: what the documentation says, and the pessimistic reading where it is silent ------------------


def test_a_configuration_that_fails_says_why_and_is_never_active(strict: StrictAws) -> None:
    db = cluster_db()
    lattice = client("vpc-lattice")
    book(strict).failing["orders-db"] = "The DB cluster orders-db is not in the available state."
    created = cluster_configuration(db, gateway_for(db), wait=False)
    assert created["status"] == "CREATE_IN_PROGRESS" and "failureReason" not in created
    await_configuration(lattice, created["id"], "CREATE_FAILED")
    failed = lattice.get_resource_configuration(resourceConfigurationIdentifier=created["id"])
    assert failed["failureReason"] == "The DB cluster orders-db is not in the available state."
    with pytest.raises(ClientError) as not_shared:
        client("ram").create_resource_share(name="failed", resourceArns=[created["arn"]], principals=[NEKT])
    assert code_of(not_shared) == "InvalidParameterException"
    lattice.delete_resource_configuration(resourceConfigurationIdentifier=created["id"])  # a failed one goes
    await_configuration_gone(lattice, created["id"])


def test_a_configuration_being_created_is_not_deleted_and_a_child_never_on_its_own(strict: StrictAws) -> None:
    db = cluster_db()
    lattice = client("vpc-lattice")
    created = cluster_configuration(db, gateway_for(db), wait=False)
    with pytest.raises(ClientError) as too_soon:
        lattice.delete_resource_configuration(resourceConfigurationIdentifier=created["id"])
    assert code_of(too_soon) == "ConflictException"
    await_configuration(lattice, created["id"], "ACTIVE")
    child = next(item for item in lattice.list_resource_configurations()["items"] if item["type"] == "CHILD")
    with pytest.raises(ClientError) as managed:
        lattice.delete_resource_configuration(resourceConfigurationIdentifier=child["id"])
    assert code_of(managed) == "ValidationException" and "managed by Amazon" in str(managed.value)


def test_the_children_s_names_may_be_absent_and_then_only_private_dns_tells_writer_from_reader(
        strict: StrictAws) -> None:
    """Which field of a child names its endpoint is not documented: with `child_domain_names` off (the pessimistic
    reading) no child shows one, and the consumer's associations show the database's names only by private DNS."""
    book(strict).child_domain_names = False
    db = cluster_db()
    arn = shared_configuration(db)
    children = [item for item in client("vpc-lattice").list_resource_configurations()["items"]
                if item["type"] == "CHILD"]
    assert len(children) == 2 and not any("customDomainName" in child for child in children)
    endpoint = resource_endpoint(consumer_vpc(dns=True), arn, PrivateDnsEnabled=True)
    endpoint_state(endpoint["VpcEndpointId"])
    cluster = client("rds").describe_db_clusters(DBClusterIdentifier=db.identifier)["DBClusters"][0]
    associations = client("ec2", NEKT).describe_vpc_endpoint_associations(
        VpcEndpointIds=[endpoint["VpcEndpointId"]])["VpcEndpointAssociations"]
    assert sorted(a["PrivateDnsEntry"]["DnsName"] for a in associations) == sorted(
        [cluster["Endpoint"], cluster["ReaderEndpoint"]])


def test_an_instance_s_custom_domain_name_is_served_privately_only_where_the_endpoint_names_it(
        strict: StrictAws) -> None:
    """A custom domain name may be "a third-party or AWS domain"; unverified, a consumer gets a private hosted zone
    for it only with ALL_DOMAINS or a preference that names it (VERIFIED_DOMAINS_ONLY is the default)."""
    db = create_database(region=REGION)
    address = client("rds").describe_db_instances(DBInstanceIdentifier=db.identifier)["DBInstances"][0][
        "Endpoint"]["Address"]
    lattice = client("vpc-lattice")
    configuration = lattice.create_resource_configuration(
        name="orders-db", type="SINGLE", resourceGatewayIdentifier=gateway_for(db), portRanges=[str(db.port)],
        customDomainName=address, resourceConfigurationDefinition={"dnsResource": {"domainName": address,
                                                                                   "ipAddressType": "IPV4"}})
    await_configuration(lattice, configuration["id"], "ACTIVE")
    _, invitation = share_with_nekt(configuration["arn"])
    client("ram", NEKT).accept_resource_share_invitation(resourceShareInvitationArn=invitation)

    def private_names(**options: Any) -> list[str]:
        made = resource_endpoint(consumer_vpc(dns=True), configuration["arn"], PrivateDnsEnabled=True, **options)
        associations = client("ec2", NEKT).describe_vpc_endpoint_associations(
            VpcEndpointIds=[made["VpcEndpointId"]])["VpcEndpointAssociations"]
        return [a["PrivateDnsEntry"]["DnsName"] for a in associations if "PrivateDnsEntry" in a]

    assert private_names() == []  # VERIFIED_DOMAINS_ONLY: unverified, no zone
    assert private_names(DnsOptions={"PrivateDnsPreference": "SPECIFIED_DOMAINS_ONLY",
                                     "PrivateDnsSpecifiedDomains": ["*.example.com"]}) == []
    assert private_names(DnsOptions={"PrivateDnsPreference": "SPECIFIED_DOMAINS_ONLY",
                                     "PrivateDnsSpecifiedDomains": [address]}) == [address]
    with pytest.raises(ClientError) as without_private_dns:
        resource_endpoint(consumer_vpc(dns=True), configuration["arn"],
                          DnsOptions={"PrivateDnsPreference": "ALL_DOMAINS"})
    assert code_of(without_private_dns) == "InvalidParameter"


def test_two_endpoints_of_one_vpc_do_not_serve_one_name_privately(strict: StrictAws) -> None:
    db = cluster_db()
    arn = shared_configuration(db)
    consumer = consumer_vpc(dns=True)
    resource_endpoint(consumer, arn, PrivateDnsEnabled=True)
    with pytest.raises(ClientError) as conflict:
        resource_endpoint(consumer, arn, PrivateDnsEnabled=True)
    assert code_of(conflict) == "InvalidParameter" and "conflicting DNS domain" in str(conflict.value)
    resource_endpoint(consumer, arn)  # without private DNS: its own names only


def test_no_resource_gateway_or_endpoint_in_a_zone_vpc_lattice_does_not_support(strict: StrictAws) -> None:
    db = cluster_db()
    ec2 = client("ec2")
    unsupported = ec2.create_subnet(VpcId=db.vpc_id, CidrBlock="10.0.200.0/24",
                                    AvailabilityZone=f"{REGION}e")["Subnet"]  # moto: us-east-1e is use1-az3
    assert unsupported["AvailabilityZoneId"] == "use1-az3"
    with pytest.raises(ClientError) as refused:
        client("vpc-lattice").create_resource_gateway(name="far", vpcIdentifier=db.vpc_id,
                                                      subnetIds=[unsupported["SubnetId"]])
    assert code_of(refused) == "ValidationException" and "use1-az3" in str(refused.value)
    arn = shared_configuration(db)
    consumer = consumer_vpc(zones=("e",))
    with pytest.raises(ClientError) as endpoint_refused:
        resource_endpoint(consumer, arn)
    assert code_of(endpoint_refused) == "InvalidParameter" and "does not support" in str(endpoint_refused.value)
