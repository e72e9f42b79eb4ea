"""DigitalOcean's own alert policies on the droplet (CPU, memory, disk) by e-mail.

They come from the monitoring agent outside the stack, so they still page when Prometheus,
Alertmanager or the whole Compose project is down.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_digitalocean as do

from infra.config import InfraConfig


@dataclass(frozen=True)
class Policy:
    key: str
    metric: str
    threshold: float
    window: str
    description: str


POLICIES = (
    Policy("cpu", "v1/insights/droplet/cpu", 90, "10m", "CPU above 90% for 10 minutes"),
    Policy(
        "memory",
        "v1/insights/droplet/memory_utilization_percent",
        90,
        "10m",
        "memory above 90% for 10 minutes",
    ),
    Policy("disk", "v1/insights/droplet/disk_utilization_percent", 85, "5m", "root disk above 85% full"),
)


class AlertPolicies(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        cfg: InfraConfig,
        droplet: do.Droplet,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("solo-trader:infra:AlertPolicies", name, None, opts)
        self.alerts = [
            do.MonitorAlert(
                f"{name}-{policy.key}",
                type=policy.metric,
                compare="GreaterThan",
                value=policy.threshold,
                window=policy.window,
                description=f"{name}: {policy.description}",
                enabled=True,
                entities=[droplet.id],
                alerts=do.MonitorAlertAlertsArgs(emails=[cfg.alert_email]),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for policy in POLICIES
        ]
        self.register_outputs({})
