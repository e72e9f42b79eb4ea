"""The bucket side of the log archive: whole small objects put, read back and listed.

    <prefix>/logs/date=YYYY-MM-DD/ids-<first>-<last>.parquet        `logs` rows (trader logs archive)
    <prefix>/containers/date=YYYY-MM-DD/<service>.ndjson.gz         container logs (trader logs ship)

Objects are a few MB at most (one day of one id block, or one day of one service), so each is a
single PUT: S3 makes it visible whole or not at all. The client: app/ops/s3.py.
"""

from __future__ import annotations

import contextlib
from typing import Any

from app.ops.logs import LogsError
from app.ops.logs.settings import LogsSettings
from app.ops.s3 import s3_client, s3_errors


class LogStore:
    def __init__(self, settings: LogsSettings, retries: int = 2) -> None:
        settings.require("s3_bucket", "s3_access_key_id", "s3_secret_access_key")
        assert settings.s3_bucket
        self.settings = settings
        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix.strip("/")
        self.client: Any = s3_client(settings, retries)

    def key(self, *parts: str) -> str:
        return "/".join((self.prefix, *parts))

    def errors(self, action: str) -> contextlib.AbstractContextManager[None]:
        return s3_errors(action, LogsError, "LOGS", self.bucket, self.settings.s3_endpoint, self.prefix)

    def put(self, key: str, body: bytes, content_type: str) -> None:
        """Upload, then check the stored size with a HEAD (a proxy that cut the body shows here)."""
        with self.errors(f"uploading {key}"):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
            size = self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        if size != len(body):
            raise LogsError(f"uploaded {key} is {size} bytes in the bucket, {len(body)} were sent")

    def get(self, key: str) -> bytes | None:
        """The object's bytes, None when it does not exist."""
        from botocore.exceptions import ClientError

        with self.errors(f"reading {key}"):
            try:
                return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise

    def list(self, prefix: str) -> dict[str, str]:
        """key -> ETag of every object under `<prefix>/<prefix>`."""
        found: dict[str, str] = {}
        with self.errors(f"listing {prefix}"):
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.key(prefix)
            ):
                for obj in page.get("Contents", []):
                    found[obj["Key"]] = obj["ETag"]
        return found
