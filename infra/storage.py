"""The private Spaces bucket for backups and log archives, and a key that can use only it.

Versioning keeps an overwritten or deleted backup recoverable; the lifecycle rules are the second
line of defence behind the backup tool's own retention, so they expire only what is well past it.
"""

from __future__ import annotations

import pulumi
import pulumi_digitalocean as do

from infra.config import InfraConfig

# The layout `trader backup` writes with its default BACKUP_S3_PREFIX=trader
# (app/ops/backup/storage.py): dumps under trader/backups/<stamp>/, trader/latest.json beside them.
BACKUP_PREFIX = "trader/backups/"
LOG_PREFIX = "trader/logs/"
# Versions replaced or deleted (by the backup tool's retention, say) stay recoverable this long.
NONCURRENT_VERSION_DAYS = 30
ABORT_MULTIPART_DAYS = 7


def s3_endpoint(region: str) -> str:
    """The regional endpoint, without the bucket name (what S3 clients and pgBackRest expect)."""
    return f"https://{region}.digitaloceanspaces.com"


def lifecycle_rules(cfg: InfraConfig) -> list[do.SpacesBucketLifecycleRuleArgs]:
    expiring = [
        do.SpacesBucketLifecycleRuleArgs(
            id=f"expire-{prefix.strip('/').replace('/', '-')}",
            enabled=True,
            prefix=prefix,
            expiration=do.SpacesBucketLifecycleRuleExpirationArgs(days=days),
        )
        for prefix, days in ((BACKUP_PREFIX, cfg.backup_retention_days), (LOG_PREFIX, cfg.log_retention_days))
    ]
    # Whole bucket: old versions and abandoned multipart uploads would otherwise be billed forever.
    housekeeping = do.SpacesBucketLifecycleRuleArgs(
        id="expire-old-versions",
        enabled=True,
        prefix="",
        noncurrent_version_expiration=do.SpacesBucketLifecycleRuleNoncurrentVersionExpirationArgs(
            days=NONCURRENT_VERSION_DAYS
        ),
        abort_incomplete_multipart_upload_days=ABORT_MULTIPART_DAYS,
    )
    return [*expiring, housekeeping]


class BackupBucket(pulumi.ComponentResource):
    def __init__(self, name: str, cfg: InfraConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("solo-trader:infra:BackupBucket", name, None, opts)
        self.bucket = do.SpacesBucket(
            f"{name}-bucket",
            name=cfg.bucket_name,
            region=cfg.region,
            acl="private",
            versioning=do.SpacesBucketVersioningArgs(enabled=True),
            lifecycle_rules=lifecycle_rules(cfg),
            force_destroy=False,
            opts=pulumi.ResourceOptions(parent=self, protect=cfg.protect),
        )
        # Scoped to this one bucket: a leaked droplet credential cannot read or delete anything else
        # in the account's Spaces.
        self.key = do.SpacesKey(
            f"{name}-key",
            name=f"{name}-backup-writer",
            grants=[do.SpacesKeyGrantArgs(bucket=self.bucket.name, permission="readwrite")],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.endpoint = s3_endpoint(cfg.region)
        self.register_outputs({"bucket": self.bucket.name})
