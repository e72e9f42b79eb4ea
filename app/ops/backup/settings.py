"""Settings of the backup tool (`BACKUP_*` environment variables, plus the stack's DATABASE_URL and
DISCORD_WEBHOOK_URL), read from the same env file as the rest of the stack.

Only what every command needs is required up front; each command then checks the settings it uses
(`require`), so `trader backup list` works on a machine without the age identity, and `restore`
works on one without the recipient.
"""

import tempfile
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.ops.backup import BackupError
from app.ops.s3 import endpoint_problem

# settings whose environment variable is not BACKUP_<FIELD>
ENV_NAMES = {"database_url": "DATABASE_URL", "discord_webhook_url": "DISCORD_WEBHOOK_URL"}


def env_name(field: str) -> str:
    """The environment variable of a field (or of a validation alias, which already is one)."""
    if field.upper().startswith("BACKUP_") or field.upper() in ENV_NAMES.values():
        return field.upper()
    return ENV_NAMES.get(field, f"BACKUP_{field.upper()}")


class BackupSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BACKUP_", env_file=None, extra="ignore", case_sensitive=False, populate_by_name=True
    )

    database_url: str = Field(
        "postgresql://trader@127.0.0.1:5432/trader",
        validation_alias=AliasChoices("BACKUP_DATABASE_URL", "DATABASE_URL"),
    )
    # --- object storage (DigitalOcean Spaces or any S3 API) ---
    s3_endpoint: str | None = Field(
        None, description="regional endpoint, e.g. https://nyc3.digitaloceanspaces.com"
    )
    s3_region: str = "us-east-1"
    s3_bucket: str | None = None
    s3_prefix: str = Field("trader", pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_addressing_style: Literal["path", "virtual", "auto"] = "path"
    s3_part_mb: int = Field(64, ge=5, le=5000, description="multipart upload part size (S3 minimum 5)")
    # --- encryption (age): recipients on the droplet, the identity kept off it ---
    age_recipients: Annotated[list[str], NoDecode] = Field(default_factory=list)
    age_identity_file: Path | None = None
    # --- what counts as a good dump ---
    expected_tables: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["public.trades", "public.features", "public.logs"]
    )
    min_dump_bytes: int = Field(2048, ge=0)
    allow_empty: bool = False
    max_shrink_ratio: float = Field(0.5, ge=0, le=1)
    # --- retention: newest backup of each of the last N days / M ISO weeks / K months ---
    keep_daily: int = Field(7, ge=1)
    keep_weekly: int = Field(4, ge=0)
    keep_monthly: int = Field(6, ge=0)
    # --- running ---
    pg_bindir: Path | None = None
    pg_dump_compress: int = Field(6, ge=0, le=9)
    restore_jobs: int = Field(2, ge=1, le=16)
    work_dir: Path = Field(
        default_factory=lambda: Path(tempfile.gettempdir()), description="room for one dump"
    )
    textfile_dir: Path | None = Field(None, description="node-exporter textfile collector directory")
    lock_wait_seconds: float = Field(0, ge=0)
    discord_webhook_url: SecretStr | None = Field(
        None, validation_alias=AliasChoices("BACKUP_DISCORD_WEBHOOK_URL", "DISCORD_WEBHOOK_URL")
    )

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: dict) -> dict:
        for key in ("age_recipients", "expected_tables"):
            raw = data.get(key) if isinstance(data, dict) else None
            if isinstance(raw, str):
                data[key] = [item.strip() for item in raw.split(",") if item.strip()]
        return data

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.database_url.startswith(("postgresql://", "postgres://")):
            raise ValueError("DATABASE_URL must start with postgresql://")
        if problem := endpoint_problem(self.s3_endpoint, self.s3_bucket, "BACKUP"):
            raise ValueError(problem)
        for recipient in self.age_recipients:
            if not recipient.startswith(("age1", "ssh-ed25519 ", "ssh-rsa ")):
                raise ValueError(f"BACKUP_AGE_RECIPIENTS: {recipient!r} is not an age public key (age1...)")
        for table in self.expected_tables:
            if table.count(".") != 1:
                raise ValueError(f"BACKUP_EXPECTED_TABLES: {table!r} must be schema.table")
        return self

    def require(self, *fields: str) -> None:
        """Fail with one message naming every missing setting that a command needs."""
        missing = [env_name(f) for f in fields if getattr(self, f) in (None, [], "")]
        if missing:
            raise BackupError(f"missing setting(s): {', '.join(missing)} (see docs/backups.md)")


def load_backup_settings(**overrides: object) -> BackupSettings:
    """Settings from the environment plus overrides; validation errors name the variables."""
    try:
        return BackupSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = env_name(str(err["loc"][0])) + ": " if err["loc"] else ""
            lines.append(f"{where}{err['msg']}")
        raise BackupError("invalid backup configuration:\n  " + "\n  ".join(lines)) from None
