"""`database: managed`: a DigitalOcean Managed PostgreSQL cluster in the stack's VPC that trusts
the droplet alone, and its connection string as a secret."""

import pulumi

from infra.cost import PRICES
from tests.infra.harness import (
    DATABASE_CLUSTER,
    DATABASE_FIREWALL,
    DROPLET,
    PROJECT_RESOURCE,
    VPC,
    good_config,
    run_program,
)

MANAGED = {"database": "managed"}


@pulumi.runtime.test
async def test_cluster_is_postgres_in_the_stacks_vpc():
    program = await run_program(good_config(**MANAGED, databaseVersion="16", databaseSize="db-s-2vcpu-4gb"))
    cluster, vpc = program.one(DATABASE_CLUSTER), program.one(VPC)
    assert cluster.inputs["engine"] == "pg", f"{cluster.name}: engine {cluster.inputs['engine']}"
    assert (cluster.inputs["version"], cluster.inputs["size"]) == ("16", "db-s-2vcpu-4gb"), cluster.inputs
    assert cluster.inputs["privateNetworkUuid"] == vpc.id, f"{cluster.name}: not in the VPC {vpc.name}"
    assert cluster.inputs["region"] == "fra1", f"{cluster.name}: not in the droplet's region"


@pulumi.runtime.test
async def test_droplet_is_the_only_trusted_source():
    program = await run_program(good_config(**MANAGED))
    firewall, droplet, cluster = (
        program.one(DATABASE_FIREWALL),
        program.one(DROPLET),
        program.one(DATABASE_CLUSTER),
    )
    assert firewall.inputs["clusterId"] == cluster.id, f"{firewall.name}: guards another cluster"
    assert firewall.inputs["rules"] == [{"type": "droplet", "value": droplet.id}], (
        f"{firewall.name}: rules {firewall.inputs['rules']}; only the droplet may connect"
    )


@pulumi.runtime.test
async def test_connection_string_is_a_secret_for_the_private_host_over_tls():
    program = await run_program(good_config(**MANAGED))
    cluster = program.one(DATABASE_CLUSTER)
    url, secret = await program.output("databaseUrl")
    assert secret, "stack output databaseUrl is not marked secret"
    assert f"@{cluster.state['privateHost']}:25060/trader?" in url, (
        f"databaseUrl does not use the private host: {url}"
    )
    assert url.endswith("sslmode=require"), "databaseUrl must require TLS"
    assert "AVNS_fake%3Ap%40ss%2Fword" in url, "the password must be URL-encoded in databaseUrl"


@pulumi.runtime.test
async def test_cluster_is_protected_and_grouped_in_the_project():
    program = await run_program(good_config(**MANAGED))
    cluster, project = program.one(DATABASE_CLUSTER), program.one(PROJECT_RESOURCE)
    assert cluster.protect, f"{cluster.name}: holds the trade history and must be protected"
    assert cluster.state["clusterUrn"] in project.inputs["resources"], f"{project.name}: lacks {cluster.name}"


@pulumi.runtime.test
async def test_self_hosted_declares_no_cluster_and_exports_no_url():
    program = await run_program(good_config())
    assert program.all(DATABASE_CLUSTER) == [], "a managed cluster was declared in self-hosted mode"
    assert "databaseUrl" not in program.outputs, "databaseUrl exported in self-hosted mode"
    mode, _ = await program.output("databaseMode")
    assert mode == "self-hosted", f"databaseMode is {mode!r}"


@pulumi.runtime.test
async def test_standby_nodes_are_configured_and_priced():
    program = await run_program(good_config(**MANAGED, databaseNodes="2"))
    cluster = program.one(DATABASE_CLUSTER)
    assert cluster.inputs["nodeCount"] == 2, f"{cluster.name}: nodeCount {cluster.inputs['nodeCount']}"
    cost, _ = await program.output("estimatedMonthlyCost")
    node = PRICES.managed_postgres["db-s-1vcpu-2gb"]
    assert cost["items"]["managed postgres 2 x db-s-1vcpu-2gb"] == 2 * node, (
        f"standby unpriced: {cost['items']}"
    )
