"""`database: managed`: DigitalOcean Managed PostgreSQL instead of the database container.

The cluster sits in the stack's VPC and its firewall trusts the droplet alone, so it is reachable
only over the private network from the one machine that needs it. The app connects with TLS to the
cluster's private host; the connection string is a Pulumi secret.
"""

from __future__ import annotations

from urllib.parse import quote

import pulumi
import pulumi_digitalocean as do

from infra.config import InfraConfig

DATABASE_NAME = "trader"
DATABASE_USER = "trader"


def connection_url(user: str, password: str, host: str, port: int, database: str) -> str:
    """A libpq URL; managed clusters accept TLS connections only."""
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return f"postgresql://{credentials}@{host}:{port}/{database}?sslmode=require"


class ManagedDatabase(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        cfg: InfraConfig,
        vpc: do.Vpc,
        droplet: do.Droplet,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("solo-trader:infra:ManagedDatabase", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.cluster = do.DatabaseCluster(
            f"{name}-pg",
            name=f"{name}-pg",
            engine="pg",
            version=cfg.database_version,
            size=cfg.database_size,
            region=cfg.region,
            node_count=cfg.database_nodes,
            private_network_uuid=vpc.id,
            tags=list(cfg.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=cfg.protect),
        )
        self.firewall = do.DatabaseFirewall(
            f"{name}-pg-firewall",
            cluster_id=self.cluster.id,
            rules=[do.DatabaseFirewallRuleArgs(type="droplet", value=droplet.id)],
            opts=child,
        )
        self.database = do.DatabaseDb(
            f"{name}-pg-db", cluster_id=self.cluster.id, name=DATABASE_NAME, opts=child
        )
        self.user = do.DatabaseUser(
            f"{name}-pg-user", cluster_id=self.cluster.id, name=DATABASE_USER, opts=child
        )
        self.url = pulumi.Output.secret(
            pulumi.Output.all(
                self.user.name,
                self.user.password,
                self.cluster.private_host,
                self.cluster.port,
                self.database.name,
            ).apply(lambda parts: connection_url(*parts))
        )
        self.register_outputs({"cluster_id": self.cluster.id})
