"""The boto3 S3 client every operator command uses (backups, log archive): one place for the
settings that make DigitalOcean Spaces and other S3-compatible servers behave, and for turning
its errors into a line that names the setting to fix.

Path-style addressing works with Spaces and every S3 clone; boto3's default CRC trailing
checksums are turned off (`when_required`): several S3-compatible servers reject them. boto3 is
imported inside, so importing this module costs nothing for commands that never reach S3.
"""

import contextlib
from collections.abc import Iterator
from typing import Any, Protocol
from urllib.parse import urlsplit

from pydantic import SecretStr


class S3Settings(Protocol):
    """What a command's settings must offer (read-only: BackupSettings, LogsSettings)."""

    @property
    def s3_endpoint(self) -> str | None: ...
    @property
    def s3_region(self) -> str: ...
    @property
    def s3_access_key_id(self) -> SecretStr | None: ...
    @property
    def s3_secret_access_key(self) -> SecretStr | None: ...
    @property
    def s3_addressing_style(self) -> str: ...


# What S3 servers answer to a key pair that is wrong, revoked or expired.
CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "TokenRefreshRequired",
    "AccessDenied",
    "InvalidToken",
    "RequestExpired",
}


@contextlib.contextmanager
def s3_errors(
    action: str, error: type[Exception], setting: str, bucket: str, endpoint: str | None, prefix: str = ""
) -> Iterator[None]:
    """Turn boto errors into one `error` line that names the `<setting>_S3_*` value to fix
    (`setting` is BACKUP or LOGS: the variables' prefix)."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    where = f"s3://{bucket}/{prefix} at {endpoint or 'AWS'}"
    try:
        yield
    except (ClientError, Boto3Error) as exc:
        # boto3's transfer manager wraps the ClientError of a failed part (S3UploadFailedError)
        cause = exc if isinstance(exc, ClientError) else exc.__context__
        code = cause.response.get("Error", {}).get("Code", "") if isinstance(cause, ClientError) else ""
        if code in CREDENTIAL_CODES:
            raise error(
                f"{action}: the object store refused the credentials ({code}): check "
                f"{setting}_S3_ACCESS_KEY_ID and {setting}_S3_SECRET_ACCESS_KEY "
                "(expired, revoked or mistyped?)"
            ) from None
        if code == "NoSuchBucket":
            raise error(f"{action}: bucket {setting}_S3_BUCKET={bucket} does not exist") from None
        raise error(f"{action} ({where}) failed: {exc}") from None
    except EndpointConnectionError:
        raise error(f"{action}: cannot reach {setting}_S3_ENDPOINT={endpoint}") from None
    except (BotoCoreError, OSError) as exc:
        raise error(f"{action} ({where}) failed: {exc}") from None


def s3_client(settings: S3Settings, retries: int = 2) -> Any:
    import boto3
    from botocore.config import Config

    assert settings.s3_access_key_id and settings.s3_secret_access_key, "check the key pair first"
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id.get_secret_value(),
        aws_secret_access_key=settings.s3_secret_access_key.get_secret_value(),
        config=Config(
            s3={"addressing_style": settings.s3_addressing_style},
            retries={"max_attempts": retries + 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def endpoint_problem(endpoint: str | None, bucket: str | None, prefix: str) -> str | None:
    """Why `<prefix>_S3_ENDPOINT` is unusable (None if it is fine or unset): not an http(s) URL,
    or a bucket URL (`https://BUCKET.nyc3...`) where the regional endpoint belongs."""
    if endpoint is None:
        return None
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{prefix}_S3_ENDPOINT must be an http(s) URL, e.g. https://nyc3.digitaloceanspaces.com"
    if bucket and parts.hostname.startswith(f"{bucket}."):
        return (
            f"{prefix}_S3_ENDPOINT must be the regional endpoint without the bucket name "
            f"(https://{parts.hostname.removeprefix(bucket + '.')}); the bucket goes in {prefix}_S3_BUCKET"
        )
    return None
