"""The DigitalOcean project that groups the stack's resources in the control panel (and keeps
them out of the account's default project)."""

from __future__ import annotations

import pulumi
import pulumi_digitalocean as do


def group(name: str, resource_urns: list[pulumi.Input[str]]) -> do.Project:
    return do.Project(
        f"{name}-project",
        name=name,
        description="Solo Trader Stack: droplet, data volume, reserved IP, backup bucket",
        purpose="Service or API",
        environment="Production",
        resources=resource_urns,
    )
