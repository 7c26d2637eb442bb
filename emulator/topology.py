"""Realistic accounts to connect: the Nekt VPC of the guide and customer databases."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.rds.models import rds_backends

from emulator.stack import DEFAULT_ACCOUNT, placeholder_zip
from emulator.strict.layer import HARNESS_ROLE_NAME
from emulator.template import NEKT_TEMPLATE_PATH, Template, iam_roles, resolve

NEKT_ACCOUNT = "111111111111"
EXTERNAL_ID = "nekt-demo-external-id"
DATABASE_STACK_NAME = "nekt-peering"  # the main stack's name (emulator.stack.Stack's default)


def account_session(account_id: str, region: str) -> boto3.Session:
    """Credentials of another account: moto maps an assumed role's credentials to the role's account."""
    if account_id == DEFAULT_ACCOUNT:
        return boto3.Session(region_name=region)
    credentials = boto3.client("sts", region_name=region).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{HARNESS_ROLE_NAME}", RoleSessionName="emulator",
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"], region_name=region,
    )


def _tags(resource_type: str, name: str) -> list[Any]:  # TagSpecificationTypeDef, for the EC2 stubs
    return [{"ResourceType": resource_type, "Tags": [{"Key": "Name", "Value": name}]}]


@dataclass
class NektNetwork:
    account_id: str
    region: str
    vpc_id: str
    cidr: str
    cidrs: list[str]
    private_route_table_id: str
    main_route_table_id: str
    accepter_role_arn: str
    private_subnet_ids: list[str] = field(default_factory=list)
    probe_function_arn: str = ""

    def stack_parameters(self, database_account: str = DEFAULT_ACCOUNT) -> dict[str, str]:
        cross_account = self.account_id != database_account
        return {
            "NektAccountId": self.account_id,
            "NektRegion": self.region,
            "NektVpcId": self.vpc_id,
            "NektAccepterRoleArn": self.accepter_role_arn if cross_account else "",
            "NektExternalId": EXTERNAL_ID if cross_account else "",
            "NektProbeFunctionArn": self.probe_function_arn,
        }


def create_nekt_network(account_id: str = NEKT_ACCOUNT, region: str = "us-east-1",
                        cidr: str = "10.100.0.0/23", secondary_cidr: str = "10.100.8.0/24",
                        database_account: str = DEFAULT_ACCOUNT, database_stack: str = DATABASE_STACK_NAME,
                        external_id: str = EXTERNAL_ID) -> NektNetwork:
    """nekt-vpc with a /23 for its private subnets (on nekt-rtb-private) and a second CIDR on the main table,
    and the accepter role of nekt-account/template.yaml for the main stack `database_stack` of `database_account`."""
    session = account_session(account_id, region)
    ec2 = session.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=_tags("vpc", "nekt-vpc"))["Vpc"]["VpcId"]
    ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock=secondary_cidr)
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"][0]
    private = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=_tags("route-table", "nekt-rtb-private"))
    private_id = private["RouteTable"]["RouteTableId"]
    zones = [f"{region}a", f"{region}b"]
    private_subnet_ids = []
    for index, zone in enumerate(zones):
        subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.100.{index}.0/24", AvailabilityZone=zone,
                                   TagSpecifications=_tags("subnet", f"nekt-private-{zone}"))["Subnet"]
        ec2.associate_route_table(RouteTableId=private_id, SubnetId=subnet["SubnetId"])
        private_subnet_ids.append(subnet["SubnetId"])
    ec2.create_subnet(VpcId=vpc_id, CidrBlock=secondary_cidr, AvailabilityZone=zones[0],
                      TagSpecifications=_tags("subnet", "nekt-public"))
    role_arn = deploy_accepter_role(session.client("iam"), {
        "DatabaseAccountId": database_account, "DatabaseStackName": database_stack, "ExternalId": external_id,
        "NektVpcId": vpc_id, "NektRouteTableId": private_id, "AWS::AccountId": account_id, "AWS::Region": region})
    return NektNetwork(account_id, region, vpc_id, cidr, [cidr, secondary_cidr], private_id,
                       main["RouteTableId"], role_arn, private_subnet_ids)


PROBE_PORTS = (5432, 3306, 1433, 1521, 5439, 27017)


def create_probe(nekt: NektNetwork, database_account: str = DEFAULT_ACCOUNT) -> str:
    """The Nekt account stack's probe (nekt-account/template.yaml ProbeFunction): its security group
    (TCP out to the database ports of 10.0.0.0/8 only), and the function on the private subnets.
    The stack runs its handler in process (Stack.deploy registers it); sets nekt.probe_function_arn."""
    session = account_session(nekt.account_id, nekt.region)
    ec2 = session.client("ec2")
    group_id = ec2.create_security_group(
        GroupName=f"nekt-peering-probe-{database_account}", VpcId=nekt.vpc_id,
        Description="nekt-peering probe, TCP out to the database ports only")["GroupId"]
    ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[{"IpProtocol": "-1",
                                                                       "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
        for port in PROBE_PORTS])
    role_arn = session.client("iam").create_role(
        RoleName=f"nekt-peering-probe-{database_account}",
        AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}')["Role"]["Arn"]
    nekt.probe_function_arn = session.client("lambda").create_function(
        FunctionName=f"nekt-peering-probe-{database_account}", Runtime="python3.13", Role=role_arn,
        Handler=Template(NEKT_TEMPLATE_PATH).functions()["ProbeFunction"],
        Code={"ZipFile": placeholder_zip()}, Architectures=["arm64"], Timeout=15,
        VpcConfig={"SubnetIds": nekt.private_subnet_ids, "SecurityGroupIds": [group_id]},
    )["FunctionArn"]
    # The stack's AccepterRoleInvokesTheProbe (Condition HasProbe): the accepter role may invoke this probe only.
    invoke = Template(NEKT_TEMPLATE_PATH).resources["AccepterRoleInvokesTheProbe"]["Properties"]
    session.client("iam").put_role_policy(
        RoleName=nekt.accepter_role_arn.rsplit("/", 1)[-1], PolicyName=invoke["PolicyName"],
        PolicyDocument=json.dumps(resolve(invoke["PolicyDocument"], {}, {"ProbeFunction.Arn": nekt.probe_function_arn},
                                          {})))
    return nekt.probe_function_arn


def deploy_accepter_role(iam: Any, values: dict[str, str]) -> str:
    """nekt-account/template.yaml's role, as CloudFormation creates it with these parameters."""
    template = Template(NEKT_TEMPLATE_PATH)
    values = {**template.parameter_defaults(), "AWS::Partition": "aws", **values}
    (spec,) = iam_roles(template.body, values, {}).values()
    name = spec.name or spec.logical_id
    arn = str(iam.create_role(RoleName=name, Path=spec.path,
                              AssumeRolePolicyDocument=json.dumps(spec.trust_policy))["Role"]["Arn"])
    for policy_name, document in spec.policies.items():
        iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))
    return arn


@dataclass
class CustomerDatabase:
    identifier: str
    account_id: str
    region: str
    kind: str
    vpc_id: str
    cidrs: list[str]
    subnet_ids: list[str]
    route_table_ids: list[str] = field(default_factory=list)
    main_route_table_id: str = ""
    security_group_id: str = ""
    port: int = 5432
    instance_id: str = ""  # kind ec2: the instance the database runs on
    private_ip: str = ""  # kind ec2: its primary private address (what kind address names)

    def connect_input(self, kind: str | None = None, **extra: Any) -> dict[str, Any]:
        """The connect input naming this database by its kind (or by `kind`: an ec2 one as an address)."""
        kind = kind or {"instance": "rds", "cluster": "rds"}.get(self.kind, self.kind)
        by_kind: dict[str, dict[str, Any]] = {
            "rds": {"identifier": self.identifier},
            "redshift": {"kind": "redshift", "identifier": self.identifier},
            "docdb": {"kind": "docdb", "identifier": self.identifier},
            "redshift-serverless": {"kind": "redshift-serverless", "identifier": self.identifier},
            "ec2": {"kind": "ec2", "instanceId": self.instance_id, "port": self.port, "engine": "postgres"},
            "address": {"kind": "address", "host": self.private_ip, "port": self.port, "vpcId": self.vpc_id},
        }
        return {"database": {**by_kind[kind], "region": self.region}, **extra}


def create_database(
    identifier: str = "orders-db",
    region: str = "us-east-2",
    account_id: str = DEFAULT_ACCOUNT,
    kind: str = "instance",
    cidr: str = "10.0.0.0/16",
    secondary_cidr: str | None = None,
    publicly_accessible: bool = False,
    port: int = 5432,
    engine: str = "postgres",
) -> CustomerDatabase:
    """A private database whose subnets sit on two route tables, plus one subnet on the main table. `kind`:
    "instance" or "cluster" (RDS, Aurora), "redshift" (a provisioned cluster), "redshift-serverless" (a workgroup,
    which the strict layer serves), "docdb" (a DocumentDB cluster),
    "ec2" (an instance in subnet a; publicly accessible: with a public address)."""
    session = account_session(account_id, region)
    ec2, rds = session.client("ec2"), session.client("rds")
    vpc_id = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=_tags("vpc", f"{identifier}-vpc"))["Vpc"]["VpcId"]
    cidrs = [cidr]
    if secondary_cidr:
        ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock=secondary_cidr)
        cidrs.append(secondary_cidr)
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"][0]
    base = cidr.split(".")[:2]
    subnet_ids, route_table_ids = [], []
    for index, zone in enumerate(["a", "b", "c"]):
        subnet_id = ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=f"{base[0]}.{base[1]}.{index + 1}.0/24", AvailabilityZone=f"{region}{zone}",
            TagSpecifications=_tags("subnet", f"{identifier}-{zone}"),
        )["Subnet"]["SubnetId"]
        subnet_ids.append(subnet_id)
        if zone != "c":  # subnet c stays on the VPC's main route table
            route_table_id = ec2.create_route_table(
                VpcId=vpc_id, TagSpecifications=_tags("route-table", f"{identifier}-rtb-{zone}"),
            )["RouteTable"]["RouteTableId"]
            ec2.associate_route_table(RouteTableId=route_table_id, SubnetId=subnet_id)
            route_table_ids.append(route_table_id)
    group_id = ec2.create_security_group(
        GroupName=f"{identifier}-sg", Description=f"{identifier} database", VpcId=vpc_id,
    )["GroupId"]
    if kind == "redshift":
        redshift = session.client("redshift")
        redshift.create_cluster_subnet_group(ClusterSubnetGroupName=f"{identifier}-subnets", Description=identifier,
                                             SubnetIds=subnet_ids)
        redshift.create_cluster(ClusterIdentifier=identifier, NodeType="ra3.xlplus", ClusterType="single-node",
                                MasterUsername="admin_user", MasterUserPassword="Not-a-real-passw0rd",
                                ClusterSubnetGroupName=f"{identifier}-subnets", VpcSecurityGroupIds=[group_id],
                                PubliclyAccessible=publicly_accessible, Port=port)
        return CustomerDatabase(identifier, account_id, region, kind, vpc_id, cidrs, subnet_ids,
                                route_table_ids + [main["RouteTableId"]], main["RouteTableId"], group_id, port)
    if kind == "redshift-serverless":  # served by the strict layer (emulator/strict/serverless.py)
        serverless = session.client("redshift-serverless")
        serverless.create_workgroup(
            workgroupName=identifier, namespaceName=f"{identifier}-namespace", subnetIds=subnet_ids,
            securityGroupIds=[group_id], port=port, publiclyAccessible=publicly_accessible)
        while serverless.get_workgroup(workgroupName=identifier)["workgroup"]["status"] == "CREATING":
            pass  # as a deployment waits for it; AVAILABLE after its first read (emulator/strict/serverless.py)
        return CustomerDatabase(identifier, account_id, region, kind, vpc_id, cidrs, subnet_ids,
                                route_table_ids + [main["RouteTableId"]], main["RouteTableId"], group_id, port)
    if kind == "ec2":
        instance = ec2.run_instances(
            # The tests load no AMI (MOTO_EC2_LOAD_DEFAULT_AMIS): moto launches an unknown image id with a warning.
            ImageId="ami-0b5eea76982371e91", InstanceType="t4g.small", MinCount=1, MaxCount=1,
            NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet_ids[0], "Groups": [group_id],
                                "AssociatePublicIpAddress": publicly_accessible}],
            TagSpecifications=_tags("instance", identifier))["Instances"][0]
        return CustomerDatabase(identifier, account_id, region, kind, vpc_id, cidrs, subnet_ids[:1],
                                route_table_ids[:1], main["RouteTableId"], group_id, port,
                                instance["InstanceId"], instance["PrivateIpAddress"])
    subnet_group = f"{identifier}-subnets"
    rds.create_db_subnet_group(DBSubnetGroupName=subnet_group, DBSubnetGroupDescription=identifier,
                               SubnetIds=subnet_ids)
    common: dict[str, Any] = {"DBSubnetGroupName": subnet_group, "VpcSecurityGroupIds": [group_id],
                              "MasterUsername": "admin_user", "MasterUserPassword": "not-a-real-password", "Port": port}
    if kind == "docdb":
        # moto's RDS refuses the docdb engine (DocumentDB shares RDS's management API, which moto serves): the
        # cluster is made as Aurora PostgreSQL and given DocumentDB's engine, as DescribeDBClusters then answers it.
        rds.create_db_cluster(DBClusterIdentifier=identifier, Engine="aurora-postgresql", **common)
        rds_backends[account_id][region].clusters[identifier].engine = "docdb"
    elif kind == "cluster":
        rds.create_db_cluster(DBClusterIdentifier=identifier, Engine=f"aurora-{engine}", **common)
        rds.create_db_instance(DBInstanceIdentifier=f"{identifier}-1", DBClusterIdentifier=identifier,
                               Engine=f"aurora-{engine}", DBInstanceClass="db.r6g.large",
                               PubliclyAccessible=publicly_accessible)
    else:
        rds.create_db_instance(DBInstanceIdentifier=identifier, Engine=engine, DBInstanceClass="db.t4g.micro",
                               AllocatedStorage=20, PubliclyAccessible=publicly_accessible, **common)
    return CustomerDatabase(identifier, account_id, region, kind, vpc_id, cidrs, subnet_ids,
                            route_table_ids + [main["RouteTableId"]], main["RouteTableId"], group_id, port)


def add_database(neighbour: CustomerDatabase, identifier: str, same_security_group: bool = True,
                 port: int | None = None) -> CustomerDatabase:
    """A second database in the VPC (and the subnets) of `neighbour`: on its security group, or on a new one."""
    session = account_session(neighbour.account_id, neighbour.region)
    ec2, rds = session.client("ec2"), session.client("rds")
    group_id = neighbour.security_group_id if same_security_group else ec2.create_security_group(
        GroupName=f"{identifier}-sg", Description=f"{identifier} database", VpcId=neighbour.vpc_id)["GroupId"]
    port = port or neighbour.port
    rds.create_db_instance(
        DBInstanceIdentifier=identifier, Engine="postgres", DBInstanceClass="db.t4g.micro", AllocatedStorage=20,
        DBSubnetGroupName=f"{neighbour.identifier}-subnets", VpcSecurityGroupIds=[group_id],
        MasterUsername="admin_user", MasterUserPassword="not-a-real-password", Port=port)
    return CustomerDatabase(identifier, neighbour.account_id, neighbour.region, "instance", neighbour.vpc_id,
                            neighbour.cidrs, neighbour.subnet_ids, neighbour.route_table_ids,
                            neighbour.main_route_table_id, group_id, port)
