"""The private network and the cloud firewall.

The cloud firewall filters packets before they reach the droplet, so Docker's iptables rules (which
publish container ports around UFW) cannot open anything it does not allow. DigitalOcean firewalls
drop whatever no rule permits, in both directions, so outbound traffic is listed explicitly too.
"""

from __future__ import annotations

import pulumi
import pulumi_digitalocean as do

from infra.config import InfraConfig

ANYWHERE = ["0.0.0.0/0", "::/0"]
MANAGED_POSTGRES_PORT = "25060"


def inbound_rules(cfg: InfraConfig) -> list[do.FirewallInboundRuleArgs]:
    return [
        do.FirewallInboundRuleArgs(protocol="tcp", port_range="22", source_addresses=list(cfg.admin_cidrs)),
        do.FirewallInboundRuleArgs(protocol="tcp", port_range="80", source_addresses=ANYWHERE),
        do.FirewallInboundRuleArgs(protocol="tcp", port_range="443", source_addresses=ANYWHERE),
        # Path-MTU discovery (IPv6 above all) breaks without ICMP; it opens no port.
        do.FirewallInboundRuleArgs(protocol="icmp", source_addresses=ANYWHERE),
    ]


def outbound_rules(cfg: InfraConfig) -> list[do.FirewallOutboundRuleArgs]:
    rules = [
        # DNS, NTP, and HTTP(S) for apt, the providers' APIs, Discord, Spaces and Let's Encrypt.
        do.FirewallOutboundRuleArgs(protocol="udp", port_range="53", destination_addresses=ANYWHERE),
        do.FirewallOutboundRuleArgs(protocol="tcp", port_range="53", destination_addresses=ANYWHERE),
        do.FirewallOutboundRuleArgs(protocol="udp", port_range="123", destination_addresses=ANYWHERE),
        do.FirewallOutboundRuleArgs(protocol="tcp", port_range="80", destination_addresses=ANYWHERE),
        do.FirewallOutboundRuleArgs(protocol="tcp", port_range="443", destination_addresses=ANYWHERE),
        do.FirewallOutboundRuleArgs(protocol="icmp", destination_addresses=ANYWHERE),
    ]
    if cfg.database == "managed":
        rules.append(
            do.FirewallOutboundRuleArgs(
                protocol="tcp", port_range=MANAGED_POSTGRES_PORT, destination_addresses=[cfg.vpc_cidr]
            )
        )
    return rules


class Network(pulumi.ComponentResource):
    """A VPC of our own, so the droplet's private interface (and the managed database, when used)
    share a network with nothing else in the account."""

    def __init__(self, name: str, cfg: InfraConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("solo-trader:infra:Network", name, None, opts)
        self.vpc = do.Vpc(
            f"{name}-vpc",
            name=f"{name}-vpc",
            region=cfg.region,
            ip_range=cfg.vpc_cidr,
            description="Solo Trader Stack private network",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"vpc_id": self.vpc.id})


class Perimeter(pulumi.ComponentResource):
    """The cloud firewall, attached to the droplet by id."""

    def __init__(
        self,
        name: str,
        cfg: InfraConfig,
        droplet: do.Droplet,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("solo-trader:infra:Perimeter", name, None, opts)
        self.firewall = do.Firewall(
            f"{name}-firewall",
            name=f"{name}-firewall",
            droplet_ids=[droplet.id.apply(int)],
            inbound_rules=inbound_rules(cfg),
            outbound_rules=outbound_rules(cfg),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"firewall_id": self.firewall.id})
