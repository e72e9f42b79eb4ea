"""Bad stack configuration stops the program before it declares any resource, with an error that
names the key and what it accepts; missing keys take defaults but explicit falsy values count."""

import pulumi
import pytest

from infra.config import REGIONS, InfraConfigError
from tests.infra.harness import (
    BUCKET,
    DATABASE_CLUSTER,
    DROPLET,
    VOLUME,
    FakeDigitalOcean,
    RecordingMonitor,
    good_config,
    run_program,
    ssh_public_key,
)

PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"
)

BAD = {
    "unknown region": (
        {"region": "mars1"},
        "solo-trader:region: 'mars1' is not one of: " + ", ".join(REGIONS),
    ),
    "region missing": ({"region": None}, "solo-trader:region: is required but not set (one of: ams3, atl1"),
    "droplet size without a price": (
        {"dropletSize": "s-64vcpu-256gb"},
        "solo-trader:dropletSize: 's-64vcpu-256gb'",
    ),
    "malformed admin CIDR": (
        {"adminCidrs": ["203.0.113.7/33"]},
        "solo-trader:adminCidrs[0]: '203.0.113.7/33'",
    ),
    "admin CIDR with host bits": ({"adminCidrs": ["10.1.2.3/8"]}, "solo-trader:adminCidrs[0]: '10.1.2.3/8'"),
    "admin CIDR not an address": ({"adminCidrs": ["my-laptop"]}, "solo-trader:adminCidrs[0]: 'my-laptop'"),
    "whole internet without opt-in": ({"adminCidrs": ["::/0"]}, "solo-trader:allowSshFromAnywhere true"),
    "admin CIDRs missing": ({"adminCidrs": None}, "solo-trader:adminCidrs: is required"),
    "admin CIDRs empty": ({"adminCidrs": []}, "solo-trader:adminCidrs: is set but empty"),
    "SSH key missing": ({"sshPublicKeys": None}, "solo-trader:sshPublicKeys: is required"),
    "SSH key garbage": (
        {"sshPublicKeys": ["hello world"]},
        "solo-trader:sshPublicKeys[0]: is not an OpenSSH public key",
    ),
    "SSH private key pasted": (
        {"sshPublicKeys": [PRIVATE_KEY]},
        "solo-trader:sshPublicKeys[0]: is a private key",
    ),
    "SSH key body mangled": (
        {"sshPublicKeys": [ssh_public_key().replace("ssh-ed25519 ", "ssh-rsa ", 1)]},
        "solo-trader:sshPublicKeys[0]: body does not match its type ssh-rsa",
    ),
    "bucket name with capitals": (
        {"bucketName": "Trader_Backups"},
        "solo-trader:bucketName: 'Trader_Backups' is refused",
    ),
    "bucket name too short": ({"bucketName": "ab"}, "solo-trader:bucketName: 'ab' is refused"),
    "bucket name too long": ({"bucketName": "a" * 64}, "solo-trader:bucketName: '" + "a" * 64),
    "bucket name starts with a hyphen": ({"bucketName": "-backups"}, "solo-trader:bucketName: '-backups'"),
    "bucket name like an IP": ({"bucketName": "192.168.10.20"}, "solo-trader:bucketName: '192.168.10.20'"),
    "bucket name missing": ({"bucketName": None}, "solo-trader:bucketName: is required"),
    "volume size zero": (
        {"volumeSizeGb": "0"},
        "solo-trader:volumeSizeGb: 0 is out of range (allowed: 1..16384)",
    ),
    "volume size not a number": (
        {"volumeSizeGb": "big"},
        "solo-trader:volumeSizeGb: 'big' is not a whole number",
    ),
    "backups not a boolean": (
        {"backups": "yes"},
        "solo-trader:backups: 'yes' is not a boolean (allowed: true, false)",
    ),
    "unknown database mode": (
        {"database": "cloud"},
        "solo-trader:database: 'cloud' is not one of: self-hosted, managed",
    ),
    "alert e-mail missing": ({"alertEmail": None}, "solo-trader:alertEmail: is required"),
    "alert e-mail malformed": (
        {"alertEmail": "ops"},
        "solo-trader:alertEmail: 'ops' is not an e-mail address",
    ),
    "tag with spaces": ({"tags": ["solo trader"]}, "solo-trader:tags[0]: 'solo trader'"),
    "public VPC range": ({"vpcCidr": "8.8.0.0/16"}, "solo-trader:vpcCidr: 8.8.0.0/16 must be a private"),
    "root as SSH user": ({"sshUser": "root"}, "solo-trader:sshUser: 'root'"),
    "domain with a scheme": ({"domain": "https://example.com"}, "solo-trader:domain: 'https://example.com'"),
}


@pytest.mark.parametrize(("overrides", "message"), BAD.values(), ids=BAD.keys())
@pulumi.runtime.test
async def test_bad_config_fails_before_any_resource(overrides, message):
    monitor = RecordingMonitor(FakeDigitalOcean())
    with pytest.raises(InfraConfigError) as caught:
        await run_program(good_config(**overrides), monitor)
    assert message in str(caught.value), f"error does not say {message!r}:\n{caught.value}"
    assert monitor.registrations == [], (
        f"resources declared before validation: {[r.name for r in monitor.registrations]}"
    )


@pulumi.runtime.test
async def test_every_problem_is_reported_at_once():
    with pytest.raises(InfraConfigError) as caught:
        await run_program(good_config(region="mars1", bucketName="UPPER", sshPublicKeys=None))
    for key in ("solo-trader:region", "solo-trader:bucketName", "solo-trader:sshPublicKeys"):
        assert key in str(caught.value), f"{key} missing from the combined error:\n{caught.value}"


@pulumi.runtime.test
async def test_comma_separated_lists_work_like_cli_paths():
    program = await run_program(
        good_config(adminCidrs=None) | {"adminCidrs": "203.0.113.7/32, 198.51.100.0/24"}
    )
    cidrs, secret = await program.output("adminCidrs")
    assert cidrs == ["203.0.113.7/32", "198.51.100.0/24"], f"adminCidrs parsed as {cidrs}"
    assert not secret, "adminCidrs is not a secret"


@pulumi.runtime.test
async def test_defaults_apply_only_to_missing_keys():
    program = await run_program(good_config())
    droplet, volume = program.one(DROPLET), program.one(VOLUME)
    assert (droplet.inputs["image"], droplet.inputs["size"]) == ("debian-13-x64", "s-2vcpu-4gb"), (
        droplet.inputs
    )
    assert droplet.inputs["backups"] is True, f"{droplet.name}: backups default on"
    assert volume.inputs["size"] == 20, f"{volume.name}: default size {volume.inputs['size']}"
    assert program.all(DATABASE_CLUSTER) == [], "self-hosted is the default database mode"


@pulumi.runtime.test
async def test_explicit_false_is_kept_not_defaulted():
    program = await run_program(good_config(backups="false"))
    droplet = program.one(DROPLET)
    assert droplet.inputs["backups"] is False, f"{droplet.name}: backups=false was replaced by the default"


@pulumi.runtime.test
async def test_bucket_name_is_used_verbatim():
    program = await run_program(good_config(bucketName="my-trader-backups-2026"))
    bucket = program.one(BUCKET)
    assert bucket.inputs["name"] == "my-trader-backups-2026", f"{bucket.name}: name {bucket.inputs['name']}"
    assert bucket.inputs["region"] == "fra1", f"{bucket.name}: not in the droplet's region"
