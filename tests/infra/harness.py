"""Runs the real Pulumi program (`infra/`, its `__main__.py`) under Pulumi's mocks, fresh for each test.

Configuration reaches the program the way the Pulumi CLI passes it: a `PULUMI_CONFIG` JSON object
of `solo-trader:<key>` strings in the environment. A recording resource monitor keeps every
registration the engine would have received — inputs, `protect`, `ignoreChanges`, parent — and
the fake DigitalOcean returns what the real API would compute (ids, addresses, keys, URNs).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import runpy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import wait_for_rpcs

PROJECT = "solo-trader"
STACK = "test"
# The program directory (`main:` in Pulumi.yaml): run like the Pulumi language host runs it, with
# runpy on the directory, which puts the directory itself first on sys.path.
PROGRAM = Path(__file__).resolve().parents[2] / "infra"

DROPLET = "digitalocean:index/droplet:Droplet"
VOLUME = "digitalocean:index/volume:Volume"
VOLUME_ATTACHMENT = "digitalocean:index/volumeAttachment:VolumeAttachment"
RESERVED_IP = "digitalocean:index/reservedIp:ReservedIp"
RESERVED_IP_ASSIGNMENT = "digitalocean:index/reservedIpAssignment:ReservedIpAssignment"
FIREWALL = "digitalocean:index/firewall:Firewall"
BUCKET = "digitalocean:index/spacesBucket:SpacesBucket"
SPACES_KEY = "digitalocean:index/spacesKey:SpacesKey"
DNS_RECORD = "digitalocean:index/dnsRecord:DnsRecord"
PROJECT_RESOURCE = "digitalocean:index/project:Project"
MONITOR_ALERT = "digitalocean:index/monitorAlert:MonitorAlert"
DATABASE_CLUSTER = "digitalocean:index/databaseCluster:DatabaseCluster"
DATABASE_FIREWALL = "digitalocean:index/databaseFirewall:DatabaseFirewall"
VPC = "digitalocean:index/vpc:Vpc"
SSH_KEY = "digitalocean:index/sshKey:SshKey"
# Resources whose `tags` label the resource itself (a firewall's or alert's `tags` select droplets).
TAGGABLE = (DROPLET, VOLUME, DATABASE_CLUSTER)


def ssh_public_key(seed: int = 1, comment: str = "trader@laptop") -> str:
    """A well-formed ed25519 public key line (length-prefixed type and 32 key bytes)."""
    key_type = b"ssh-ed25519"
    blob = len(key_type).to_bytes(4, "big") + key_type + (32).to_bytes(4, "big") + bytes([seed]) * 32
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {comment}"


def good_config(**overrides: str | list[str] | None) -> dict[str, str]:
    """A valid stack configuration as `pulumi config set` stores it (lists as JSON strings);
    an override of None removes the key."""
    config: dict[str, Any] = {
        "region": "fra1",
        "sshPublicKeys": [ssh_public_key()],
        "adminCidrs": ["203.0.113.7/32"],
        "bucketName": "solo-trader-backups-test",
        "alertEmail": "ops@example.com",
    }
    config.update(overrides)
    return {k: json.dumps(v) if isinstance(v, list) else v for k, v in config.items() if v is not None}


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    id: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    protect: bool
    ignore_changes: list[str]
    parent: str


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request):  # the gRPC method's name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            recorded = self.resources.get(response.urn)
            self.registrations.append(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    id=response.id,
                    inputs=pulumi.runtime.rpc.deserialize_properties(request.object),
                    state=dict(recorded.state) if recorded else {},
                    protect=request.protect,
                    ignore_changes=list(request.ignoreChanges),
                    parent=request.parent,
                )
            )
        return response


class FakeDigitalOcean(pulumi.runtime.Mocks):
    """Returns what the DigitalOcean API computes on create; inputs pass through unchanged."""

    def __init__(self) -> None:
        self._ids = itertools.count(400_000_001)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        if not args.custom:
            return "", {}
        numeric = str(next(self._ids))
        computed: dict[str, Any] = {}
        kind = args.typ.rsplit(":", 1)[-1]
        if kind == "Droplet":
            computed = {
                "ipv4Address": "198.51.100.10",
                "ipv4AddressPrivate": "10.110.16.2",
                "ipv6Address": "2001:db8::10",
                "dropletUrn": f"do:droplet:{numeric}",
            }
        elif kind == "Volume":
            computed = {"volumeUrn": f"do:volume:{numeric}"}
        elif kind == "ReservedIp":
            computed = {"ipAddress": "203.0.113.50", "reservedIpUrn": "do:reservedip:203.0.113.50"}
        elif kind == "SshKey":
            computed = {
                "fingerprint": f"3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:{int(numeric) % 100:02d}"
            }
        elif kind == "SpacesBucket":
            name = args.inputs["name"]
            region = args.inputs["region"]
            computed = {
                "bucketUrn": f"do:space:{name}",
                "endpoint": f"{region}.digitaloceanspaces.com",
                "bucketDomainName": f"{name}.{region}.digitaloceanspaces.com",
            }
        elif kind == "SpacesKey":
            computed = {"accessKey": "DO00FAKEACCESSKEY123", "secretKey": "fake-spaces-secret-key/+="}
        elif kind == "DatabaseCluster":
            computed = {
                "host": "trader-pg-do-user-1.db.ondigitalocean.com",
                "privateHost": "private-trader-pg-do-user-1.db.ondigitalocean.com",
                "port": 25060,
                "clusterUrn": f"do:dbaas:{numeric}",
                "uri": "postgresql://doadmin:admin-secret@host:25060/defaultdb",
                "password": "admin-secret",
            }
        elif kind == "DatabaseUser":
            computed = {"password": "AVNS_fake:p@ss/word"}
        elif kind == "DnsRecord":
            computed = {"fqdn": f"{args.inputs['name']}.{args.inputs['domain']}"}
        return numeric, {**args.inputs, **computed}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        return {}, None


@dataclass
class Program:
    monitor: RecordingMonitor
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def registrations(self) -> list[Registration]:
        return self.monitor.registrations

    def all(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def one(self, type_: str) -> Registration:
        found = self.all(type_)
        assert len(found) == 1, f"expected exactly one {type_}, the program declared {len(found)}"
        return found[0]

    async def output(self, name: str) -> tuple[Any, bool]:
        """(value, is_secret) of a stack export, awaited."""
        assert name in self.outputs, f"the program exports no {name!r} (exports: {sorted(self.outputs)})"
        value = pulumi.Output.from_input(self.outputs[name])
        return await value.future(), await value.is_secret()


def configure(config: Mapping[str, str]) -> None:
    """Set the stack configuration as the CLI does, replacing whatever a previous test set."""
    os.environ["PULUMI_CONFIG"] = json.dumps({f"{PROJECT}:{k}": v for k, v in config.items()})
    os.environ["PULUMI_CONFIG_SECRET_KEYS"] = "[]"
    pulumi.runtime.set_all_config({}, [])


async def run_program(config: Mapping[str, str], monitor: RecordingMonitor | None = None) -> Program:
    """Run infra/__main__.py from scratch under fresh mocks and wait until every resource it
    declared has been registered. Call it inside a `@pulumi.runtime.test` function; pass a
    monitor to inspect what was registered when the program raises."""
    configure(config)
    pulumi_settings.ROOT.set(None)  # a new root stack: no exports left over from another test
    monitor = monitor or RecordingMonitor(FakeDigitalOcean())
    pulumi.runtime.set_mocks(monitor.mocks, project=PROJECT, stack=STACK, preview=False, monitor=monitor)
    declared: list[pulumi.Resource] = []

    def collect(args: pulumi.ResourceTransformationArgs) -> None:
        declared.append(args.resource)

    pulumi.runtime.register_stack_transformation(collect)
    runpy.run_path(str(PROGRAM), run_name="__main__")
    # A resource's URN resolves once the monitor has answered its registration.
    await asyncio.gather(*(resource.urn.future() for resource in declared))
    # And Pulumi's own RPCs (the stack's outputs): left pending, they outlive the test and
    # asyncio reports them destroyed at exit, after pytest's summary line.
    await wait_for_rpcs(await_all_outstanding_tasks=False)
    root = pulumi_settings.get_root_resource()
    return Program(monitor=monitor, outputs=dict(root.outputs))
