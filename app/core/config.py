"""Every environment variable the service reads, in one place, validated at start-up.

Names follow the deployment plan (`POLYGON_API_KEY`, `TRADIER_ACCESS_TOKEN`, ...). A malformed
value fails start-up with a message naming the variable; see `load_settings`.
"""

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_MARKERS = ("changeme", "change-me", "replace-me", "placeholder", "xxx")

# LOGS_RETENTION_DAYS: `logs` rows older than this many days move to the bucket (`trader logs
# archive`); the database keeps the recent ones for the API and the weekly review.
LogsRetentionDays = Annotated[int, Field(ge=1, le=3650)]

# WATCHLIST_HORIZONS: the horizons of `data.snapshot` (app.providers.snapshot.Horizon; a test keeps
# the two in step; importing it here would be circular)
WatchlistHorizon = Literal["1d", "5d", "1m", "3m", "6m", "1y"]
DEFAULT_HORIZONS: tuple[WatchlistHorizon, ...] = ("1d",)


class TradierEnv(StrEnum):
    sandbox = "sandbox"
    prod = "prod"


TRADIER_BASE_URLS = {
    TradierEnv.sandbox: "https://sandbox.tradier.com",
    TradierEnv.prod: "https://api.tradier.com",
}


class SettingsError(ValueError):
    """Start-up configuration is unusable; the message names each variable to fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    # --- core ---
    database_url: str = Field(
        "postgresql://trader@127.0.0.1:5432/trader",
        description="DATABASE_URL: postgresql://user:password@host:port/dbname",
    )
    api_token: SecretStr | None = Field(None, description="API_TOKEN: bearer token for /api/v1/*")
    dev_allow_no_token: bool = Field(
        False,
        validation_alias="TRADER_DEV_ALLOW_NO_TOKEN",
        description="TRADER_DEV_ALLOW_NO_TOKEN: run without API_TOKEN (development only)",
    )
    db_pool_min: int = Field(1, ge=0, le=100)
    db_pool_max: int = Field(10, ge=1, le=200)
    db_connect_timeout_seconds: float = Field(5.0, gt=0)
    db_command_timeout_seconds: float = Field(30.0, gt=0)
    db_startup_timeout_seconds: float = Field(
        30.0, ge=0, description="how long start-up waits for the database"
    )
    db_probe_interval_seconds: float = Field(10.0, gt=0, description="how often trader_db_up is refreshed")
    idempotency_key_days: int = Field(7, ge=1, description="Idempotency-Keys are forgotten after this")
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    log_json: bool = True

    # --- TimescaleDB (used only when the extension exists) ---
    timescale_compress_after_days: int = Field(7, ge=1)
    timescale_retention_days: int | None = Field(None, ge=1, description="drop chunks older than this")

    # --- Polygon ---
    polygon_api_key: SecretStr | None = None
    polygon_base_url: str = "https://api.polygon.io"
    polygon_api_rate: float = Field(5.0, gt=0, description="POLYGON_API_RATE: requests per minute")
    polygon_cache_seconds: float = Field(60.0, ge=0, description="reuse Polygon answers this long")
    polygon_plan_recheck_seconds: float = Field(
        3600.0, ge=0, description="after a 403 on snapshots (free plan), use end-of-day data this long"
    )
    market_overview_symbols: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["SPY", "QQQ", "IWM", "DIA"],
        description="MARKET_OVERVIEW_SYMBOLS: comma-separated symbols GET /market/overview shows",
    )

    # --- Tradier ---
    tradier_access_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("TRADIER_ACCESS_TOKEN", "TRADIER_API_KEY")
    )
    tradier_env: TradierEnv = TradierEnv.sandbox
    tradier_base_url: str | None = Field(None, description="override the URL TRADIER_ENV selects")
    tradier_account_id: str | None = None
    tradier_api_rate: float = Field(60.0, gt=0, description="TRADIER_API_RATE: requests per minute")

    # --- outbound HTTP policy (shared by every provider client) ---
    http_timeout_seconds: float = Field(10.0, gt=0)
    http_max_retries: int = Field(3, ge=0, le=10)
    breaker_failure_threshold: int = Field(5, ge=1)
    breaker_reset_seconds: float = Field(30.0, gt=0)
    http_backoff_seconds: float = Field(0.5, ge=0, description="first retry waits up to this (jittered)")
    http_backoff_max_seconds: float = Field(20.0, ge=0)
    http_max_wait_seconds: float = Field(
        30.0, ge=0, description="longest a call waits for a rate limit or Retry-After before failing"
    )

    # --- trading guardrails ---
    trading_enabled: bool = Field(False, description="TRADING_ENABLED: explicit switch to place orders")
    max_order_qty: Decimal = Field(Decimal(100), gt=0)
    max_order_notional: Decimal = Field(Decimal(10_000), gt=0)
    symbol_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="SYMBOL_ALLOWLIST: comma-separated, empty = any"
    )

    # --- alerts ---
    discord_webhook_url: SecretStr | None = None
    alert_provider_error_ratio: float = Field(0.5, gt=0, le=1)
    alert_rate_limited_per_minute: int = Field(10, ge=1)
    alert_dedup_seconds: float = Field(300.0, ge=0)

    # --- background loops, price alerts, live stream (app/loops, docs/loops.md); all off by default ---
    enable_background_loops: bool = Field(
        False, description="ENABLE_BACKGROUND_LOOPS: snapshot WATCHLIST_SYMBOLS on a market-hours schedule"
    )
    enable_alerts_poller: bool = Field(
        False, description="ENABLE_ALERTS_POLLER: evaluate /api/v1/alerts rules against new snapshots"
    )
    ws_ping_sec: float = Field(20.0, gt=0, le=3600, description="WS_PING_SEC: /api/v1/stream ping period")
    ws_queue_size: int = Field(100, ge=1, le=10_000, description="WS_QUEUE_SIZE: events held per client")
    watchlist_symbols: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="WATCHLIST_SYMBOLS: comma-separated tickers the loop snapshots"
    )
    watchlist_horizons: Annotated[list[WatchlistHorizon], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_HORIZONS),
        description="WATCHLIST_HORIZONS: comma-separated, e.g. 1d,1m",
    )
    snapshot_interval_minutes: int = Field(
        15, ge=1, le=390, description="SNAPSHOT_INTERVAL_MINUTES: cycles from the open, every N minutes"
    )
    loop_rate_reserve: int = Field(
        2, ge=0, description="LOOP_RATE_RESERVE: Polygon tokens the loop leaves to interactive calls"
    )
    alerts_poll_seconds: float = Field(60.0, gt=0, description="ALERTS_POLL_SECONDS: poller period")

    # --- log archive (`trader logs archive` reads the same variable) ---
    logs_retention_days: LogsRetentionDays = Field(
        14, description="LOGS_RETENTION_DAYS: older `logs` rows are moved to the bucket"
    )

    @model_validator(mode="before")
    @classmethod
    def _split_allowlist(cls, data: dict) -> dict:
        for field in ("symbol_allowlist", "market_overview_symbols", "watchlist_symbols"):
            raw = data.get(field) if isinstance(data, dict) else None
            if isinstance(raw, str):
                data[field] = [s.strip().upper() for s in raw.split(",") if s.strip()]
        return data

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.database_url.startswith(("postgresql://", "postgres://")):
            raise ValueError("DATABASE_URL must start with postgresql:// (got another scheme)")
        if self.api_token is None and not self.dev_allow_no_token:
            raise ValueError(
                "API_TOKEN is not set: set it to a long random string "
                "(or TRADER_DEV_ALLOW_NO_TOKEN=1 for local development only)"
            )
        if self.api_token is not None:
            token = self.api_token.get_secret_value()
            if len(token) < 16 or any(m in token.lower() for m in PLACEHOLDER_MARKERS):
                raise ValueError("API_TOKEN looks like a placeholder or is shorter than 16 characters")
        if self.db_pool_min > self.db_pool_max:
            raise ValueError("DB_POOL_MIN must not exceed DB_POOL_MAX")
        # TimescaleDB's retention also drops `logs` chunks: they must outlive the archive's window
        # (plus a day of slack for a missed run), or rows vanish without reaching the bucket.
        if (
            self.timescale_retention_days is not None
            and self.timescale_retention_days < self.logs_retention_days + 2
        ):
            raise ValueError(
                f"TIMESCALE_RETENTION_DAYS ({self.timescale_retention_days}) must be at least "
                f"LOGS_RETENTION_DAYS + 2 ({self.logs_retention_days + 2}): older logs would be dropped "
                "before they are archived"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _split_horizons(cls, data: dict) -> dict:
        raw = data.get("watchlist_horizons") if isinstance(data, dict) else None
        if isinstance(raw, str):  # horizons are lower case: not through the upper-casing splitter
            data["watchlist_horizons"] = [h.strip() for h in raw.split(",") if h.strip()]
        return data

    @model_validator(mode="after")
    def _check_loops(self) -> Self:
        if self.enable_background_loops:
            if not self.watchlist_symbols:
                raise ValueError(
                    "ENABLE_BACKGROUND_LOOPS=true needs WATCHLIST_SYMBOLS (comma-separated, e.g. SPY,QQQ)"
                )
            if self.polygon_api_key is None:
                raise ValueError("ENABLE_BACKGROUND_LOOPS=true needs POLYGON_API_KEY (the loop's data)")
            if self.loop_rate_reserve >= self.polygon_api_rate:
                raise ValueError(
                    f"LOOP_RATE_RESERVE ({self.loop_rate_reserve}) must be below POLYGON_API_RATE "
                    f"({self.polygon_api_rate:g}): the loop would never get a request"
                )
        return self

    @property
    def tradier_url(self) -> str:
        return self.tradier_base_url or TRADIER_BASE_URLS[self.tradier_env]


def load_settings(**overrides: object) -> Settings:
    """Build Settings from the environment (plus overrides), turning validation errors into one
    readable message that names each environment variable at fault."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "_".join(str(p) for p in err["loc"]).upper() or "settings"
            lines.append(f"{name}: {err['msg']} (got {err.get('input')!r})" if err["loc"] else err["msg"])
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None
