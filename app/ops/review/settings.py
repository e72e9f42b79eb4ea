"""The review's own settings (`REVIEW_*`, `OPENAI_*`, `CHATDATA_API_KEY`, `DATABASE_URL`).

Kept apart from the service's `Settings`: the review runs on the trader's machine against the
database, needs none of the service's secrets, and the service never needs a model key.
"""

from decimal import Decimal
from enum import StrEnum
from typing import Self

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ModelApi(StrEnum):
    chat = "chat"  # Chat Completions: what OpenAI-compatible proxies support
    responses = "responses"  # OpenAI's Responses API


class ChatCapParam(StrEnum):
    """The Chat Completions field that carries the output cap: OpenAI's current name, or the older
    one that many proxies still expect."""

    max_completion_tokens = "max_completion_tokens"
    max_tokens = "max_tokens"


class ReviewSettingsError(ValueError):
    """The review's configuration is unusable; the message names each variable to fix."""


class ReviewSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", case_sensitive=False, populate_by_name=True
    )

    database_url: str = Field(
        "postgresql://trader@127.0.0.1:5432/trader", validation_alias=AliasChoices("DATABASE_URL")
    )
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    chatdata_api_key: SecretStr | None = Field(None, validation_alias="CHATDATA_API_KEY")
    base_url: str | None = Field(None, validation_alias=AliasChoices("OPENAI_BASE_URL", "REVIEW_BASE_URL"))
    model: str = Field("gpt-4o-mini", validation_alias=AliasChoices("REVIEW_MODEL", "OPENAI_MODEL"))
    api: ModelApi = Field(ModelApi.chat, validation_alias="REVIEW_API")
    chat_cap_param: ChatCapParam = Field(
        ChatCapParam.max_completion_tokens, validation_alias="REVIEW_CHAT_CAP_PARAM"
    )
    # The SDK waits 600 s by default; a weekly summary is not worth holding a terminal that long.
    timeout_seconds: float = Field(30.0, gt=0, le=600, validation_alias="REVIEW_TIMEOUT_SECONDS")
    max_retries: int = Field(1, ge=0, le=1, validation_alias="REVIEW_MAX_RETRIES")
    retry_delay_seconds: float = Field(2.0, ge=0, validation_alias="REVIEW_RETRY_DELAY_SECONDS")
    retry_after_max_seconds: float = Field(30.0, ge=0, validation_alias="REVIEW_RETRY_AFTER_MAX_SECONDS")
    max_output_tokens: int = Field(800, ge=16, le=16_000, validation_alias="REVIEW_MAX_OUTPUT_TOKENS")
    run_cap_usd: Decimal = Field(Decimal("0.05"), gt=0, validation_alias="REVIEW_RUN_CAP_USD")
    monthly_cap_usd: Decimal = Field(Decimal("1.00"), gt=0, validation_alias="REVIEW_MONTHLY_CAP_USD")
    # For a model missing from prices.py, or a proxy that charges its own rates (USD per 1M tokens).
    price_input_per_mtok: Decimal | None = Field(None, ge=0, validation_alias="REVIEW_PRICE_INPUT_PER_MTOK")
    price_output_per_mtok: Decimal | None = Field(None, ge=0, validation_alias="REVIEW_PRICE_OUTPUT_PER_MTOK")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.database_url.startswith(("postgresql://", "postgres://")):
            raise ValueError("DATABASE_URL must start with postgresql:// (got another scheme)")
        # A proxy's key sent to api.openai.com would fail at best and leak the key at worst.
        if self.chatdata_api_key and not self.openai_api_key and not self.base_url:
            raise ValueError(
                "CHATDATA_API_KEY is set but OPENAI_BASE_URL is not: set OPENAI_BASE_URL to the "
                "proxy's OpenAI-compatible endpoint (the URL that ends in /v1)"
            )
        if (self.price_input_per_mtok is None) != (self.price_output_per_mtok is None):
            raise ValueError(
                "set both REVIEW_PRICE_INPUT_PER_MTOK and REVIEW_PRICE_OUTPUT_PER_MTOK, or neither"
            )
        return self

    @property
    def key_variable(self) -> str | None:
        """Which variable's key the calls use: a proxy's key only ever goes to the proxy's URL, and
        with a proxy configured its own key wins over an OPENAI_API_KEY left in the shell."""
        if self.chatdata_api_key and self.base_url:
            return "CHATDATA_API_KEY"
        return "OPENAI_API_KEY" if self.openai_api_key else None

    @property
    def api_key(self) -> str | None:
        key = {"CHATDATA_API_KEY": self.chatdata_api_key, "OPENAI_API_KEY": self.openai_api_key}
        secret = key.get(self.key_variable or "")
        return secret.get_secret_value() if secret else None


def load_review_settings(**overrides: object) -> ReviewSettings:
    """Settings from the environment plus overrides; validation errors become one message naming
    each variable at fault."""
    try:
        return ReviewSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = _env_name(str(err["loc"][0])) if err["loc"] else "settings"
            lines.append(f"{where}: {err['msg']} (got {err.get('input')!r})" if err["loc"] else err["msg"])
        raise ReviewSettingsError("invalid review configuration:\n  " + "\n  ".join(lines)) from None


def _env_name(field_name: str) -> str:
    alias = (
        ReviewSettings.model_fields[field_name].validation_alias
        if field_name in ReviewSettings.model_fields
        else None
    )
    if isinstance(alias, AliasChoices):
        return " / ".join(str(c) for c in alias.choices)
    return str(alias or field_name).upper()
