"""The stack's configuration as one typed, validated object.

Every key is read with `pulumi.Config` the way `pulumi config set` stores it (strings; lists as
JSON when set with `--path`, or comma-separated). A *missing* key takes its default; a key that is
set but unusable (`volumeSizeGb: 0`, an empty list) is an error, never silently replaced. All
problems are collected and raised together, before the program declares a single resource, each
naming the key and what it accepts.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Literal

import pulumi

from infra.cost import PRICES

PROJECT = "solo-trader"

# Regions that offer Droplets, Volumes, Spaces and Managed PostgreSQL together; the bucket lives in
# the droplet's region so backups never cross a datacenter boundary on their way out.
REGIONS = ("ams3", "atl1", "blr1", "fra1", "lon1", "nyc3", "sfo2", "sfo3", "sgp1", "syd1", "tor1")
DATABASE_MODES = ("self-hosted", "managed")
SSH_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
WHOLE_INTERNET = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_TAG_RE = re.compile(r"^[A-Za-z0-9:\-_]{1,255}$")
_HOST_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


class InfraConfigError(pulumi.RunError, ValueError):
    """The stack configuration is unusable; the message names every key to fix. A RunError, so
    `pulumi up` prints the message without a Python traceback."""


@dataclass(frozen=True)
class InfraConfig:
    region: str
    droplet_size: str
    image: str
    ssh_public_keys: tuple[str, ...]
    ssh_user: str
    admin_cidrs: tuple[str, ...]
    allow_ssh_from_anywhere: bool
    vpc_cidr: str
    domain: str | None
    hostname: str
    bucket_name: str
    backup_retention_days: int
    log_retention_days: int
    volume_size_gb: int
    backups: bool
    alert_email: str
    tags: tuple[str, ...]
    database: Literal["self-hosted", "managed"]
    database_size: str
    database_version: str
    database_nodes: int
    protect: bool

    @property
    def fqdn(self) -> str | None:
        return f"{self.hostname}.{self.domain}" if self.domain else None


class _Reader:
    """Reads raw strings from a `pulumi.Config` and records a problem per bad key."""

    def __init__(self, config) -> None:
        self._config = config
        self.problems: list[str] = []

    def fail(self, key: str, message: str) -> None:
        self.problems.append(f"{PROJECT}:{key}: {message}")

    def raw(self, key: str) -> str | None:
        return self._config.get(key)

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.raw(key)
        if value is None:
            if required:
                self.fail(key, "is required but not set")
            return default
        return value.strip()

    def choice(self, key: str, allowed: tuple[str, ...] | list[str], default: str | None = None) -> str:
        value = self.text(key, default)
        if value is None:
            self.fail(key, f"is required but not set (one of: {', '.join(allowed)})")
        elif value not in allowed:
            self.fail(key, f"{value!r} is not one of: {', '.join(allowed)}")
        return value or ""

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.raw(key)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            self.fail(key, f"{value!r} is not a whole number (allowed: {low}..{high})")
            return default
        if not low <= number <= high:
            self.fail(key, f"{number} is out of range (allowed: {low}..{high})")
        return number

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if value.strip().lower() not in ("true", "false"):
            self.fail(key, f"{value!r} is not a boolean (allowed: true, false)")
            return default
        return value.strip().lower() == "true"

    def strings(self, key: str, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """A list: JSON (what `pulumi config set --path 'key[0]' v` stores) or comma-separated."""
        value = self.raw(key)
        if value is None:
            if default is None:
                self.fail(key, "is required but not set (a list; set it with --path 'key[0]')")
                return ()
            return default
        items: object
        if value.lstrip().startswith("["):
            try:
                items = json.loads(value)
            except json.JSONDecodeError as exc:
                self.fail(key, f"is not a valid JSON list ({exc.msg})")
                return ()
        else:
            items = value.split(",")
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            self.fail(key, "must be a list of strings")
            return ()
        cleaned = tuple(i.strip() for i in items if i.strip())
        if not cleaned:
            self.fail(key, "is set but empty")
        return cleaned


def _check_ssh_key(reader: _Reader, index: int, key: str) -> None:
    parts = key.split()
    where = f"sshPublicKeys[{index}]"
    if "PRIVATE KEY" in key:
        reader.fail(where, "is a private key: give the content of the .pub file, never the private key")
        return
    if len(parts) < 2 or parts[0] not in SSH_KEY_TYPES:
        reader.fail(
            where, f"is not an OpenSSH public key (must start with one of: {', '.join(SSH_KEY_TYPES)})"
        )
        return
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        reader.fail(where, "has a key body that is not base64")
        return
    # The blob starts with the key type again, length-prefixed: a cheap check against pasted garbage.
    if parts[0].encode() not in blob[: 4 + len(parts[0])]:
        reader.fail(where, f"body does not match its type {parts[0]}")


def _check_cidrs(reader: _Reader, cidrs: tuple[str, ...], allow_anywhere: bool) -> None:
    for index, cidr in enumerate(cidrs):
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError as exc:
            reader.fail(f"adminCidrs[{index}]", f"{cidr!r} is not a CIDR such as 203.0.113.7/32 ({exc})")
            continue
        if network in WHOLE_INTERNET and not allow_anywhere:
            reader.fail(
                f"adminCidrs[{index}]",
                f"{cidr} opens SSH to the whole internet; give your own address/32, "
                f"or set {PROJECT}:allowSshFromAnywhere true to accept that risk",
            )


def _check_vpc_cidr(reader: _Reader, cidr: str) -> None:
    try:
        network = ipaddress.ip_network(cidr, strict=True)
    except ValueError as exc:
        reader.fail("vpcCidr", f"{cidr!r} is not a CIDR such as 10.110.0.0/20 ({exc})")
        return
    if network.version != 4 or not network.is_private or not 16 <= network.prefixlen <= 24:
        reader.fail("vpcCidr", f"{cidr} must be a private (RFC 1918) IPv4 range between /16 and /24")


def _check_bucket(reader: _Reader, name: str) -> None:
    # Spaces' naming rules: 3-63 characters, lowercase letters, digits and hyphens, starting and
    # ending with a letter or digit, and not shaped like an IP address.
    if not _BUCKET_RE.fullmatch(name) or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        reader.fail(
            "bucketName",
            f"{name!r} is refused by Spaces: use 3-63 characters of lowercase letters, digits and "
            "hyphens, starting and ending with a letter or digit",
        )


def load_config(config) -> InfraConfig:
    """Validate the stack configuration (a `pulumi.Config`); raise InfraConfigError listing every
    problem before anything is declared."""
    r = _Reader(config)
    region = r.choice("region", REGIONS)
    droplet_size = r.choice("dropletSize", sorted(PRICES.droplets), default="s-2vcpu-4gb")
    allow_anywhere = r.boolean("allowSshFromAnywhere", False)
    admin_cidrs = r.strings("adminCidrs")
    _check_cidrs(r, admin_cidrs, allow_anywhere)
    ssh_keys = r.strings("sshPublicKeys")
    for index, key in enumerate(ssh_keys):
        _check_ssh_key(r, index, key)
    vpc_cidr = r.text("vpcCidr", "10.110.16.0/20") or ""
    _check_vpc_cidr(r, vpc_cidr)
    bucket = r.text("bucketName", required=True) or ""
    if bucket:
        _check_bucket(r, bucket)
    domain = r.text("domain")
    if domain is not None and not all(_HOST_LABEL_RE.fullmatch(p) for p in domain.split(".")):
        r.fail("domain", f"{domain!r} is not a lowercase domain name such as example.com")
    hostname = r.text("hostname", "trader") or ""
    if not _HOST_LABEL_RE.fullmatch(hostname):
        r.fail("hostname", f"{hostname!r} is not a DNS label (lowercase letters, digits, inner hyphens)")
    alert_email = r.text("alertEmail", required=True) or ""
    if alert_email and not _EMAIL_RE.fullmatch(alert_email):
        r.fail("alertEmail", f"{alert_email!r} is not an e-mail address")
    ssh_user = r.text("sshUser", "deploy") or ""
    if not _USER_RE.fullmatch(ssh_user) or ssh_user == "root":
        r.fail("sshUser", f"{ssh_user!r} must be a lowercase Linux user name other than root")
    tags = r.strings("tags", ("solo-trader",))
    for index, tag in enumerate(tags):
        if not _TAG_RE.fullmatch(tag):
            r.fail(f"tags[{index}]", f"{tag!r} may hold only letters, digits, ':', '-' and '_'")
    database = r.choice("database", DATABASE_MODES, default="self-hosted")
    database_size = r.choice("databaseSize", sorted(PRICES.managed_postgres), default="db-s-1vcpu-2gb")
    config_values = InfraConfig(
        region=region,
        droplet_size=droplet_size,
        image=r.text("image", "debian-13-x64") or "",
        ssh_public_keys=ssh_keys,
        ssh_user=ssh_user,
        admin_cidrs=admin_cidrs,
        allow_ssh_from_anywhere=allow_anywhere,
        vpc_cidr=vpc_cidr,
        domain=domain,
        hostname=hostname,
        bucket_name=bucket,
        backup_retention_days=r.integer("backupRetentionDays", 400, 1, 3650),
        log_retention_days=r.integer("logRetentionDays", 90, 1, 3650),
        volume_size_gb=r.integer("volumeSizeGb", 20, 1, 16384),
        backups=r.boolean("backups", True),
        alert_email=alert_email,
        tags=tags,
        database=database,  # type: ignore[arg-type]
        database_size=database_size,
        database_version=r.choice("databaseVersion", ("15", "16", "17"), default="17"),
        # 2 or 3 adds standby nodes that take over on failure, each billed like the primary.
        database_nodes=r.integer("databaseNodes", 1, 1, 3),
        protect=r.boolean("protect", True),
    )
    if r.problems:
        raise InfraConfigError(
            "the stack configuration is invalid (fix with `pulumi config set KEY VALUE`):\n  "
            + "\n  ".join(r.problems)
        )
    return config_values


def resource_prefix(stack: str) -> str:
    """`trader-<stack>`, reduced to what every DigitalOcean name accepts (lowercase letters, digits
    and hyphens, starting with a letter), so two stacks in one account never collide."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", stack.lower()).strip("-")
    return f"trader-{cleaned}"[:48].rstrip("-")
