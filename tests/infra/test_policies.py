"""One safety or shape policy per test, checked on the resources the real program registers under
mocks. Each failure message names the resource and the rule it broke."""

import ipaddress

import pulumi

from app.ops.backup.settings import BackupSettings
from infra.cost import PRICES
from infra.network import MANAGED_POSTGRES_PORT
from infra.storage import BACKUP_PREFIX
from tests.infra.harness import (
    BUCKET,
    DNS_RECORD,
    DROPLET,
    FIREWALL,
    MONITOR_ALERT,
    PROJECT_RESOURCE,
    RESERVED_IP,
    RESERVED_IP_ASSIGNMENT,
    SPACES_KEY,
    TAGGABLE,
    VOLUME,
    VOLUME_ATTACHMENT,
    VPC,
    good_config,
    run_program,
)

WHOLE_INTERNET = {ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")}


def _opens_port(rule: dict, port: int) -> bool:
    if rule["protocol"] not in ("tcp", "udp"):
        return False
    low, _, high = rule.get("portRange", "1-65535").replace("all", "1-65535").partition("-")
    return int(low) <= port <= int(high or low)


@pulumi.runtime.test
async def test_ssh_is_never_open_to_the_whole_internet_by_default():
    program = await run_program(good_config())
    firewall = program.one(FIREWALL)
    for rule in firewall.inputs["inboundRules"]:
        if _opens_port(rule, 22):
            sources = {ipaddress.ip_network(s) for s in rule["sourceAddresses"]}
            assert not sources & WHOLE_INTERNET, (
                f"{firewall.name}: inbound rule {rule} opens SSH to the whole internet without "
                "solo-trader:allowSshFromAnywhere"
            )


@pulumi.runtime.test
async def test_ssh_reaches_only_the_admin_cidrs():
    cidrs = ["203.0.113.7/32", "2001:db8:42::/64"]
    program = await run_program(good_config(adminCidrs=cidrs))
    firewall = program.one(FIREWALL)
    ssh_sources = [
        s
        for rule in firewall.inputs["inboundRules"]
        if _opens_port(rule, 22)
        for s in rule["sourceAddresses"]
    ]
    assert sorted(ssh_sources) == sorted(cidrs), (
        f"{firewall.name}: SSH sources {ssh_sources} != adminCidrs {cidrs}"
    )


@pulumi.runtime.test
async def test_ssh_from_anywhere_only_with_the_explicit_opt_in():
    program = await run_program(good_config(adminCidrs=["0.0.0.0/0"], allowSshFromAnywhere="true"))
    firewall = program.one(FIREWALL)
    ssh_sources = [
        s
        for rule in firewall.inputs["inboundRules"]
        if _opens_port(rule, 22)
        for s in rule["sourceAddresses"]
    ]
    assert ssh_sources == ["0.0.0.0/0"], (
        f"{firewall.name}: the opt-in should open SSH as configured, got {ssh_sources}"
    )


@pulumi.runtime.test
async def test_inbound_opens_only_ssh_http_and_https():
    program = await run_program(good_config())
    firewall = program.one(FIREWALL)
    opened = sorted(
        rule.get("portRange") for rule in firewall.inputs["inboundRules"] if rule["protocol"] != "icmp"
    )
    assert opened == ["22", "443", "80"], (
        f"{firewall.name}: inbound ports {opened}; only 22, 80, 443 may be open"
    )


@pulumi.runtime.test
async def test_http_and_https_are_open_to_everyone_over_both_ip_versions():
    program = await run_program(good_config())
    firewall = program.one(FIREWALL)
    for port in (80, 443):
        sources = {
            s
            for rule in firewall.inputs["inboundRules"]
            if _opens_port(rule, port)
            for s in rule["sourceAddresses"]
        }
        assert sources == {"0.0.0.0/0", "::/0"}, f"{firewall.name}: port {port} sources {sources}"


@pulumi.runtime.test
async def test_outbound_rules_are_explicit_ports_not_everything():
    program = await run_program(good_config())
    firewall = program.one(FIREWALL)
    outbound = firewall.inputs.get("outboundRules") or []
    assert outbound, (
        f"{firewall.name}: no outbound rules; DigitalOcean would drop all egress (apt, APIs, backups)"
    )
    for rule in outbound:
        if rule["protocol"] == "icmp":
            continue
        assert rule.get("portRange") not in (None, "", "all", "1-65535", "0"), (
            f"{firewall.name}: outbound rule {rule} allows every port; list the ports the stack needs"
        )
    https = [rule for rule in outbound if _opens_port(rule, 443) and rule["protocol"] == "tcp"]
    assert https, f"{firewall.name}: outbound HTTPS is needed for Spaces, apt and the providers' APIs"


@pulumi.runtime.test
async def test_firewall_is_attached_to_the_droplet():
    program = await run_program(good_config())
    firewall, droplet = program.one(FIREWALL), program.one(DROPLET)
    assert firewall.inputs.get("dropletIds") == [int(droplet.id)], (
        f"{firewall.name}: dropletIds {firewall.inputs.get('dropletIds')} does not hold droplet {droplet.id}"
    )


@pulumi.runtime.test
async def test_bucket_is_private():
    program = await run_program(good_config())
    bucket = program.one(BUCKET)
    assert bucket.inputs.get("acl") == "private", (
        f"{bucket.name}: acl is {bucket.inputs.get('acl')!r}, must be private"
    )


@pulumi.runtime.test
async def test_bucket_keeps_versions():
    program = await run_program(good_config())
    bucket = program.one(BUCKET)
    assert bucket.inputs.get("versioning", {}).get("enabled") is True, (
        f"{bucket.name}: versioning must be enabled"
    )


@pulumi.runtime.test
async def test_bucket_expires_old_backups_after_the_configured_days():
    program = await run_program(good_config(backupRetentionDays="120"))
    bucket = program.one(BUCKET)
    rules = {rule.get("prefix"): rule for rule in bucket.inputs.get("lifecycleRules", [])}
    backups = rules.get(BACKUP_PREFIX)
    assert backups is not None, f"{bucket.name}: no lifecycle rule for {BACKUP_PREFIX} (rules: {list(rules)})"
    assert backups["enabled"] is True, f"{bucket.name}: the {BACKUP_PREFIX} lifecycle rule is disabled"
    assert backups["expiration"]["days"] == 120, (
        f"{bucket.name}: backups expire after {backups['expiration']}"
    )


@pulumi.runtime.test
async def test_bucket_lifecycle_matches_the_backup_tools_layout():
    program = await run_program(good_config())
    bucket = program.one(BUCKET)
    # `trader backup` writes <BACKUP_S3_PREFIX>/backups/<stamp>/... (app/ops/backup/storage.py).
    dump_key = f"{BackupSettings.model_fields['s3_prefix'].default}/backups/20260101T000000Z/dump"
    prefixes = [rule["prefix"] for rule in bucket.inputs["lifecycleRules"] if rule.get("expiration")]
    assert any(dump_key.startswith(p) for p in prefixes), (
        f"{bucket.name}: no expiring rule covers the backup tool's key {dump_key} (prefixes {prefixes})"
    )


@pulumi.runtime.test
async def test_bucket_expires_old_versions_everywhere():
    program = await run_program(good_config())
    bucket = program.one(BUCKET)
    whole = [r for r in bucket.inputs["lifecycleRules"] if r.get("prefix", "") == "" and r["enabled"]]
    assert whole and whole[0].get("noncurrentVersionExpiration", {}).get("days"), (
        f"{bucket.name}: noncurrent versions never expire; a versioned bucket would grow forever"
    )


@pulumi.runtime.test
async def test_spaces_key_can_read_and_write_only_the_backup_bucket():
    program = await run_program(good_config(bucketName="only-this-bucket"))
    key = program.one(SPACES_KEY)
    grants = key.inputs.get("grants")
    assert grants == [{"bucket": "only-this-bucket", "permission": "readwrite"}], (
        f"{key.name}: grants {grants}; the key must hold readwrite on the backup bucket and nothing else"
    )


@pulumi.runtime.test
async def test_volume_is_attached_to_the_droplet():
    program = await run_program(good_config())
    attachment, droplet, volume = program.one(VOLUME_ATTACHMENT), program.one(DROPLET), program.one(VOLUME)
    assert attachment.inputs["dropletId"] == int(droplet.id), (
        f"{attachment.name}: not attached to {droplet.name}"
    )
    assert attachment.inputs["volumeId"] == volume.id, f"{attachment.name}: does not attach {volume.name}"


@pulumi.runtime.test
async def test_reserved_ip_is_assigned_to_the_droplet():
    program = await run_program(good_config())
    assignment, droplet, ip = (
        program.one(RESERVED_IP_ASSIGNMENT),
        program.one(DROPLET),
        program.one(RESERVED_IP),
    )
    assert assignment.inputs["dropletId"] == int(droplet.id), (
        f"{assignment.name}: not assigned to {droplet.name}"
    )
    assert assignment.inputs["ipAddress"] == ip.state["ipAddress"], (
        f"{assignment.name}: assigns another address"
    )


@pulumi.runtime.test
async def test_credentials_are_exported_as_secrets():
    program = await run_program(good_config())
    for name in ("spacesAccessKeyId", "spacesSecretAccessKey"):
        value, secret = await program.output(name)
        assert value, f"stack output {name} is empty"
        assert secret, f"stack output {name} is not marked secret; `pulumi stack output` would print it"


@pulumi.runtime.test
async def test_no_plain_output_contains_a_credential():
    program = await run_program(good_config(database="managed"))
    credentials = [(await program.output(n))[0] for n in ("spacesSecretAccessKey", "databaseUrl")]
    for name in program.outputs:
        value, secret = await program.output(name)
        if secret:
            continue
        for credential in credentials:
            assert credential not in str(value), f"plain stack output {name} contains a credential"


@pulumi.runtime.test
async def test_every_taggable_resource_carries_the_stack_tags():
    tags = ["solo-trader", "env:prod"]
    program = await run_program(good_config(tags=tags, database="managed"))
    taggable = [r for r in program.registrations if r.type in TAGGABLE]
    assert len(taggable) == 3, (
        f"expected a droplet, a volume and a database cluster, got {[r.name for r in taggable]}"
    )
    for resource in taggable:
        assert set(tags) <= set(resource.inputs.get("tags", [])), (
            f"{resource.name}: tags {resource.inputs.get('tags')}"
        )


@pulumi.runtime.test
async def test_droplet_runs_the_monitoring_agent_with_ipv6_in_the_vpc():
    program = await run_program(good_config())
    droplet, vpc = program.one(DROPLET), program.one(VPC)
    for flag in ("monitoring", "ipv6"):
        assert droplet.inputs.get(flag) is True, f"{droplet.name}: {flag} must be on"
    assert droplet.inputs.get("vpcUuid") == vpc.id, f"{droplet.name}: not in the stack's VPC {vpc.name}"


@pulumi.runtime.test
async def test_droplet_is_not_replaced_when_user_data_or_ssh_keys_change():
    program = await run_program(good_config())
    droplet = program.one(DROPLET)
    assert {"userData", "sshKeys"} <= set(droplet.ignore_changes), (
        f"{droplet.name}: a change to userData or sshKeys would replace it "
        f"(ignoreChanges: {droplet.ignore_changes})"
    )
    assert droplet.protect, f"{droplet.name}: must be protected against deletion"


@pulumi.runtime.test
async def test_data_survives_a_droplet_rebuild():
    program = await run_program(good_config())
    for resource in (program.one(VOLUME), program.one(BUCKET)):
        assert resource.protect, f"{resource.name}: holds data and must be protected against deletion"


@pulumi.runtime.test
async def test_protection_can_be_lifted_for_destroy():
    program = await run_program(good_config(protect="false"))
    protected = [r.name for r in program.registrations if r.protect]
    assert protected == [], (
        f"protect=false must unprotect everything for `pulumi destroy`, still protected: {protected}"
    )


@pulumi.runtime.test
async def test_alert_policies_watch_cpu_memory_and_disk_by_email():
    program = await run_program(good_config(alertEmail="me@example.org"))
    droplet = program.one(DROPLET)
    alerts = program.all(MONITOR_ALERT)
    metrics = sorted(a.inputs["type"].rsplit("/", 1)[-1] for a in alerts)
    assert metrics == ["cpu", "disk_utilization_percent", "memory_utilization_percent"], (
        f"alert metrics {metrics}"
    )
    for alert in alerts:
        assert alert.inputs["alerts"]["emails"] == ["me@example.org"], (
            f"{alert.name}: e-mails {alert.inputs['alerts']}"
        )
        assert alert.inputs["entities"] == [droplet.id], f"{alert.name}: does not watch {droplet.name}"
        assert alert.inputs["enabled"] is True, f"{alert.name}: disabled"


@pulumi.runtime.test
async def test_no_dns_records_without_a_domain():
    program = await run_program(good_config())
    assert program.all(DNS_RECORD) == [], "DNS records were declared although no domain is configured"


@pulumi.runtime.test
async def test_dns_points_a_at_the_reserved_ip_and_aaaa_at_the_droplet():
    program = await run_program(good_config(domain="example.com", hostname="trade"))
    records = {r.inputs["type"]: r for r in program.all(DNS_RECORD)}
    ip, droplet = program.one(RESERVED_IP), program.one(DROPLET)
    assert sorted(records) == ["A", "AAAA"], f"DNS record types {sorted(records)}"
    assert records["A"].inputs["value"] == ip.state["ipAddress"], f"{records['A'].name}: not the reserved IP"
    assert records["AAAA"].inputs["value"] == droplet.state["ipv6Address"], (
        f"{records['AAAA'].name}: not the IPv6"
    )
    for record in records.values():
        assert (record.inputs["domain"], record.inputs["name"]) == ("example.com", "trade"), (
            f"{record.name}: wrong name"
        )
    fqdn, _ = await program.output("fqdn")
    assert fqdn == "trade.example.com", f"stack output fqdn is {fqdn!r}"


@pulumi.runtime.test
async def test_project_groups_the_stacks_resources():
    program = await run_program(good_config())
    project = program.one(PROJECT_RESOURCE)
    expected = {
        program.one(DROPLET).state["dropletUrn"],
        program.one(VOLUME).state["volumeUrn"],
        program.one(RESERVED_IP).state["reservedIpUrn"],
        program.one(BUCKET).state["bucketUrn"],
    }
    assert set(project.inputs.get("resources", [])) == expected, f"{project.name}: resources {project.inputs}"


@pulumi.runtime.test
async def test_estimated_cost_comes_from_the_dated_price_table():
    program = await run_program(good_config(dropletSize="s-4vcpu-8gb", volumeSizeGb="50", backups="false"))
    cost, _ = await program.output("estimatedMonthlyCost")
    assert cost["prices_as_of"] == PRICES.as_of, f"cost estimate undated: {cost}"
    expected = (
        PRICES.droplets["s-4vcpu-8gb"] + 50 * PRICES.volume_per_gib + PRICES.spaces + PRICES.reserved_ip
    )
    assert cost["total"] == round(expected, 2), f"cost total {cost['total']} != {expected} from prices.toml"
    assert round(sum(cost["items"].values()), 2) == cost["total"], f"cost items do not add up: {cost}"


@pulumi.runtime.test
async def test_managed_database_traffic_leaves_only_for_the_vpc():
    program = await run_program(good_config(database="managed", vpcCidr="10.120.0.0/20"))
    firewall = program.one(FIREWALL)
    rules = [r for r in firewall.inputs["outboundRules"] if r.get("portRange") == MANAGED_POSTGRES_PORT]
    assert [r["destinationAddresses"] for r in rules] == [["10.120.0.0/20"]], (
        f"{firewall.name}: outbound to PostgreSQL {rules}; must reach the VPC only"
    )


@pulumi.runtime.test
async def test_every_resource_belongs_to_a_component():
    program = await run_program(good_config(database="managed", domain="example.com"))
    for resource in program.registrations:
        if resource.type == PROJECT_RESOURCE or resource.type.startswith("solo-trader:"):
            continue
        assert "solo-trader:infra:" in resource.parent, f"{resource.name}: declared outside its component"
        assert resource.name.startswith("trader-test-"), (
            f"{resource.name}: name not derived from its parent's"
        )
