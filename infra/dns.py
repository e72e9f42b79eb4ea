"""A and AAAA records for the configured domain (which must already be a DigitalOcean-managed
domain in the account), pointing at the reserved IPv4 and the droplet's IPv6."""

from __future__ import annotations

import pulumi
import pulumi_digitalocean as do

TTL_SECONDS = 300


class DnsRecords(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        domain: str,
        hostname: str,
        ipv4: pulumi.Input[str],
        ipv6: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("solo-trader:infra:DnsRecords", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.a = do.DnsRecord(
            f"{name}-a", domain=domain, type="A", name=hostname, value=ipv4, ttl=TTL_SECONDS, opts=child
        )
        self.aaaa = do.DnsRecord(
            f"{name}-aaaa",
            domain=domain,
            type="AAAA",
            name=hostname,
            value=ipv6,
            ttl=TTL_SECONDS,
            opts=child,
        )
        self.register_outputs({"fqdn": self.a.fqdn})
