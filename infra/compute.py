"""The droplet, its data volume and its reserved IP.

The droplet is disposable, its data is not: the database lives on a block-storage volume that
survives a rebuild, and the public address is a reserved IP that can move to a new droplet.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_digitalocean as do

from infra.config import InfraConfig

# DigitalOcean only reads these at creation: a later change would replace the droplet (and lose
# everything not on the volume), so the program ignores them and the docs say how to rotate keys.
REPLACE_TRIGGERS_IGNORED = ["user_data", "ssh_keys", "image"]


def cloud_init(cfg: InfraConfig) -> str:
    """Just enough to hand the machine to Ansible: an unprivileged sudo user holding the operator's
    keys, so the first play never needs root over SSH."""
    document = {
        "users": [
            {
                "name": cfg.ssh_user,
                "groups": ["sudo"],
                "shell": "/bin/bash",
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "lock_passwd": True,
                "ssh_authorized_keys": list(cfg.ssh_public_keys),
            }
        ],
        "disable_root": True,
        "ssh_pwauth": False,
    }
    # JSON is YAML, and it leaves no room for quoting mistakes in the keys' comments.
    return "#cloud-config\n" + json.dumps(document, indent=2) + "\n"


def volume_device(volume_name: str) -> str:
    """Where Debian exposes a DigitalOcean volume, stable across reboots and rebuilds."""
    return f"/dev/disk/by-id/scsi-0DO_Volume_{volume_name}"


class Server(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        cfg: InfraConfig,
        vpc: do.Vpc,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("solo-trader:infra:Server", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, protect=cfg.protect)

        self.ssh_keys = [
            do.SshKey(f"{name}-ssh-key-{index}", name=f"{name}-{index}", public_key=key, opts=child)
            for index, key in enumerate(cfg.ssh_public_keys)
        ]
        self.droplet = do.Droplet(
            f"{name}-droplet",
            name=name,
            region=cfg.region,
            size=cfg.droplet_size,
            image=cfg.image,
            vpc_uuid=vpc.id,
            ssh_keys=[key.fingerprint for key in self.ssh_keys],
            user_data=cloud_init(cfg),
            ipv6=True,
            monitoring=True,
            droplet_agent=True,
            backups=cfg.backups,
            graceful_shutdown=True,
            tags=list(cfg.tags),
            opts=pulumi.ResourceOptions.merge(
                keep, pulumi.ResourceOptions(ignore_changes=REPLACE_TRIGGERS_IGNORED)
            ),
        )

        self.volume_name = f"{name}-data"
        self.volume = do.Volume(
            f"{name}-data",
            name=self.volume_name,
            region=cfg.region,
            size=cfg.volume_size_gb,
            initial_filesystem_type="ext4",
            initial_filesystem_label="trader-data",
            description="database data; survives droplet rebuilds",
            tags=list(cfg.tags),
            opts=keep,
        )
        self.volume_attachment = do.VolumeAttachment(
            f"{name}-data-attachment",
            droplet_id=self.droplet.id.apply(int),
            volume_id=self.volume.id,
            opts=child,
        )

        self.reserved_ip = do.ReservedIp(f"{name}-ip", region=cfg.region, opts=child)
        self.reserved_ip_assignment = do.ReservedIpAssignment(
            f"{name}-ip-assignment",
            ip_address=self.reserved_ip.ip_address,
            droplet_id=self.droplet.id.apply(int),
            opts=child,
        )
        self.register_outputs(
            {
                "droplet_id": self.droplet.id,
                "reserved_ip": self.reserved_ip.ip_address,
                "volume": self.volume.id,
            }
        )
