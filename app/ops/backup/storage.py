"""The bucket: one folder per backup, a backup exists only once its manifest does.

    <prefix>/backups/<stamp>/dump.pgdump.age   uploaded first (multipart: invisible until complete)
    <prefix>/backups/<stamp>/manifest.json     written after the dump was uploaded and checked
    <prefix>/latest.json                       moved to the new stamp last

S3 has no rename, so the "temporary name" of a half-uploaded dump is the uncompleted multipart
upload itself: it is never listed as an object, and a failed run aborts it (or the next run
does). A crash between the dump and its manifest leaves a folder without a manifest: never listed
as a backup, swept by retention. boto3 is imported here only (the `backup` extra).

DigitalOcean Spaces: BACKUP_S3_ENDPOINT is the regional endpoint (https://nyc3.digitaloceanspaces.com)
without the bucket; path-style addressing works there and with every S3 clone. boto3's default
CRC trailing checksums are turned off (`when_required`): several S3-compatible servers reject them.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.ops.backup import BackupError
from app.ops.backup.manifest import Manifest
from app.ops.backup.settings import BackupSettings
from app.ops.s3 import s3_client, s3_errors

DUMP_NAME = "dump.pgdump.age"
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class Listed:
    stamp: str
    manifest: Manifest


class BackupStore:
    def __init__(self, settings: BackupSettings) -> None:
        settings.require("s3_bucket", "s3_access_key_id", "s3_secret_access_key")
        from boto3.s3.transfer import TransferConfig

        assert settings.s3_bucket
        self.settings = settings
        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix.strip("/")
        self.client: Any = s3_client(settings)
        part = settings.s3_part_mb * 1024 * 1024
        self.transfer = TransferConfig(multipart_threshold=part, multipart_chunksize=part, max_concurrency=4)

    # --- keys ---
    def _backups_prefix(self) -> str:
        return f"{self.prefix}/backups/"

    def dump_key(self, stamp: str) -> str:
        return f"{self._backups_prefix()}{stamp}/{DUMP_NAME}"

    def manifest_key(self, stamp: str) -> str:
        return f"{self._backups_prefix()}{stamp}/{MANIFEST_NAME}"

    @property
    def latest_key(self) -> str:
        return f"{self.prefix}/latest.json"

    def _errors(self, action: str) -> contextlib.AbstractContextManager[None]:
        return s3_errors(action, BackupError, "BACKUP", self.bucket, self.settings.s3_endpoint, self.prefix)

    # --- writing ---
    def upload_dump(self, path: Path, stamp: str, progress: Callable[[int], None] | None = None) -> None:
        with self._errors(f"uploading backup {stamp}"):
            self.client.upload_file(
                str(path), self.bucket, self.dump_key(stamp), Config=self.transfer, Callback=progress
            )
            size = self.client.head_object(Bucket=self.bucket, Key=self.dump_key(stamp))["ContentLength"]
        if size != path.stat().st_size:
            raise BackupError(
                f"uploaded backup {stamp} is {size} bytes, the local file {path.stat().st_size}"
            )

    def commit(self, manifest: Manifest) -> None:
        """Publish a backup: its manifest, then `latest.json` (see module docstring)."""
        with self._errors(f"publishing backup {manifest.stamp}"):
            self.client.put_object(
                Bucket=self.bucket, Key=self.manifest_key(manifest.stamp), Body=manifest.to_json()
            )
            self.client.put_object(
                Bucket=self.bucket, Key=self.latest_key, Body=json.dumps({"stamp": manifest.stamp}).encode()
            )

    def abort_stale_uploads(self) -> int:
        """Abort multipart uploads left by runs that died (callers hold the backup lock)."""
        aborted = 0
        with self._errors("cleaning up unfinished uploads"):
            listing = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self._backups_prefix())
            for upload in listing.get("Uploads", []):
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
                aborted += 1
        return aborted

    def delete(self, stamp: str) -> None:
        """Manifest first: a backup stops being listed before its dump goes."""
        with self._errors(f"deleting backup {stamp}"):
            self.client.delete_object(Bucket=self.bucket, Key=self.manifest_key(stamp))
            self.client.delete_object(Bucket=self.bucket, Key=self.dump_key(stamp))

    # --- reading ---
    def stamps(self) -> tuple[list[str], list[str]]:
        """(complete backups, incomplete folders: a dump or a manifest missing), each oldest first."""
        files: dict[str, set[str]] = {}
        with self._errors("listing backups"):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._backups_prefix()):
                for obj in page.get("Contents", []):
                    stamp, _, name = obj["Key"].removeprefix(self._backups_prefix()).partition("/")
                    files.setdefault(stamp, set()).add(name)
        complete = sorted(s for s, names in files.items() if {DUMP_NAME, MANIFEST_NAME} <= names)
        partial = sorted(set(files) - set(complete))
        return complete, partial

    def manifest(self, stamp: str) -> Manifest:
        with self._errors(f"reading the manifest of backup {stamp}"):
            body = self.client.get_object(Bucket=self.bucket, Key=self.manifest_key(stamp))["Body"].read()
        return Manifest.from_json(body)

    def list(self) -> list[Listed]:
        complete, _ = self.stamps()
        return [Listed(stamp, self.manifest(stamp)) for stamp in complete]

    def latest(self) -> str | None:
        from botocore.exceptions import ClientError

        with self._errors("reading latest.json"):
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=self.latest_key)["Body"].read()
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise
        return json.loads(body)["stamp"]

    def download_dump(self, stamp: str, path: Path, progress: Callable[[int], None] | None = None) -> None:
        with self._errors(f"downloading backup {stamp}"):
            self.client.download_file(
                self.bucket, self.dump_key(stamp), str(path), Config=self.transfer, Callback=progress
            )
