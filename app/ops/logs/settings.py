"""Settings of `trader logs` (`LOGS_*` environment variables). The bucket and its key pair fall
back to the backup's `BACKUP_S3_*` variables: on the droplet both jobs write to the same bucket,
under different prefixes, so one env file or the other is enough.
"""

import re
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.core.config import LogsRetentionDays
from app.ops.logs import LogsError
from app.ops.s3 import endpoint_problem

ENV_PREFIXES = ("LOGS_", "BACKUP_", "DATABASE_URL")


def _env(field: str) -> AliasChoices:
    """LOGS_<FIELD>, else BACKUP_<FIELD> (the same bucket as the backups)."""
    return AliasChoices(f"LOGS_{field.upper()}", f"BACKUP_{field.upper()}")


class LogsSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOGS_", env_file=None, extra="ignore", case_sensitive=False, populate_by_name=True
    )

    database_url: str = Field(
        "postgresql://trader@127.0.0.1:5432/trader",
        validation_alias=AliasChoices("LOGS_DATABASE_URL", "DATABASE_URL"),
    )
    retention_days: LogsRetentionDays = Field(14, validation_alias="LOGS_RETENTION_DAYS")
    # rows are archived one block of ids at a time: one transaction, one object per day in it
    block_ids: int = Field(50_000, ge=100, le=5_000_000)
    # --- object storage (DigitalOcean Spaces or any S3 API) ---
    s3_endpoint: str | None = Field(None, validation_alias=_env("s3_endpoint"))
    s3_region: str = Field("us-east-1", validation_alias=_env("s3_region"))
    s3_bucket: str | None = Field(None, validation_alias=_env("s3_bucket"))
    s3_prefix: str = Field(
        "trader", pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", validation_alias=_env("s3_prefix")
    )
    s3_access_key_id: SecretStr | None = Field(None, validation_alias=_env("s3_access_key_id"))
    s3_secret_access_key: SecretStr | None = Field(None, validation_alias=_env("s3_secret_access_key"))
    s3_addressing_style: Literal["path", "virtual", "auto"] = Field(
        "path", validation_alias=_env("s3_addressing_style")
    )
    # --- container logs ---
    # Compose services whose containers' logs are shipped, found by their Compose labels: the
    # container names change (the app update starts trader-app-2 beside trader-app-1)
    services: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["app", "db", "caddy"])
    # the stack role's Compose project (stack_project)
    compose_project: str = Field("trader", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    docker_bin: str = "docker"
    ship_days: int = Field(7, ge=1, le=90, description="completed days a first run looks back")
    state_dir: Path = Field(Path("/var/lib/trader-logship"), description="last shipped day per service")
    # --- running ---
    textfile_dir: Path | None = Field(None, description="node-exporter textfile collector directory")

    @model_validator(mode="before")
    @classmethod
    def _split_services(cls, data: dict) -> dict:
        raw = data.get("services") if isinstance(data, dict) else None
        if isinstance(raw, str):
            data["services"] = [item.strip() for item in raw.split(",") if item.strip()]
        return data

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.database_url.startswith(("postgresql://", "postgres://")):
            raise ValueError("DATABASE_URL must start with postgresql://")
        if problem := endpoint_problem(self.s3_endpoint, self.s3_bucket, "LOGS"):
            raise ValueError(problem)
        for name in self.services:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
                raise ValueError(f"LOGS_SERVICES: {name!r} is not a Compose service name (e.g. app)")
        return self

    @property
    def archive_url(self) -> str | None:
        """s3://bucket/prefix of the archive, when a bucket is configured."""
        return f"s3://{self.s3_bucket}/{self.s3_prefix.strip('/')}" if self.s3_bucket else None

    def require(self, *fields: str) -> None:
        """Fail with one message naming every missing setting a command needs."""
        missing = [f"LOGS_{f.upper()}" for f in fields if getattr(self, f) in (None, [], "")]
        if missing:
            raise LogsError(
                f"missing setting(s): {', '.join(missing)} (or their BACKUP_* twins; see docs/logs.md)"
            )


def load_logs_settings(**overrides: object) -> LogsSettings:
    """Settings from the environment plus overrides; validation errors name the variables."""
    try:
        return LogsSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else ""
            # a field's name, or the environment variable (alias) it was read from
            where = f"{name if name.startswith(ENV_PREFIXES) else 'LOGS_' + name}: " if name else ""
            lines.append(f"{where}{err['msg']}")
        raise LogsError("invalid logs configuration:\n  " + "\n  ".join(lines)) from None
