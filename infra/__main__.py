"""Solo Trader Stack on DigitalOcean.

One droplet behind a cloud firewall, its database on a block-storage volume, a reserved IP, a
private Spaces bucket for backups and logs with a key scoped to it, DNS when a domain is set, alert
policies, and optionally a managed PostgreSQL cluster. The configuration is validated before any
resource is declared (infra/config.py); the exports are what `trader inventory` turns into the
Ansible inventory.
"""

import pulumi

from infra.compute import Server, volume_device
from infra.config import load_config, resource_prefix
from infra.cost import estimate
from infra.database import ManagedDatabase
from infra.dns import DnsRecords
from infra.monitoring import AlertPolicies
from infra.network import Network, Perimeter
from infra.project import group
from infra.storage import BackupBucket

cfg = load_config(pulumi.Config())
name = resource_prefix(pulumi.get_stack())

network = Network(name, cfg)
server = Server(name, cfg, network.vpc)
perimeter = Perimeter(name, cfg, server.droplet)
storage = BackupBucket(name, cfg)
alerts = AlertPolicies(name, cfg, server.droplet)
dns = (
    DnsRecords(name, cfg.domain, cfg.hostname, server.reserved_ip.ip_address, server.droplet.ipv6_address)
    if cfg.domain
    else None
)
database = ManagedDatabase(name, cfg, network.vpc, server.droplet) if cfg.database == "managed" else None

urns = [
    server.droplet.droplet_urn,
    server.volume.volume_urn,
    server.reserved_ip.reserved_ip_urn,
    storage.bucket.bucket_urn,
]
if database:
    urns.append(database.cluster.cluster_urn)
project = group(name, urns)

pulumi.export("name", name)
pulumi.export("region", cfg.region)
pulumi.export("ipv4", server.reserved_ip.ip_address)
pulumi.export("dropletIpv4", server.droplet.ipv4_address)
pulumi.export("ipv6", server.droplet.ipv6_address)
pulumi.export("privateIpv4", server.droplet.ipv4_address_private)
pulumi.export("fqdn", cfg.fqdn)
pulumi.export("sshUser", cfg.ssh_user)
pulumi.export("sshPublicKeys", list(cfg.ssh_public_keys))
pulumi.export("adminCidrs", list(cfg.admin_cidrs))
pulumi.export("dataVolumeName", server.volume.name)
pulumi.export("dataVolumeDevice", server.volume.name.apply(volume_device))
pulumi.export("bucketName", storage.bucket.name)
pulumi.export("s3Endpoint", storage.endpoint)
pulumi.export("s3Region", cfg.region)
pulumi.export("spacesAccessKeyId", pulumi.Output.secret(storage.key.access_key))
pulumi.export("spacesSecretAccessKey", pulumi.Output.secret(storage.key.secret_key))
pulumi.export("databaseMode", cfg.database)
if database:
    pulumi.export("databaseUrl", database.url)
pulumi.export("estimatedMonthlyCost", estimate(cfg))
