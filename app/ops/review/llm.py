"""One model call through the official `openai` SDK, Chat Completions or Responses API.

The SDK's own retries are off (`max_retries=0`): the caller retries at most once itself, so that
every attempt passes the budget check and gets its own row in the `logs` table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.ops.review.settings import ChatCapParam, ModelApi, ReviewSettings
from app.providers.http import parse_retry_after

if TYPE_CHECKING:
    import openai


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage | None  # None when the endpoint reported none (some proxies)
    cut_at_cap: bool  # the model stopped because it reached the output cap
    model: str


class CallFailed(Exception):
    """One attempt failed. `outcome` names how; `maybe_billed` is True when the provider may have
    done (and charged for) the work although no usage came back."""

    def __init__(
        self,
        outcome: str,
        message: str,
        *,
        retryable: bool,
        maybe_billed: bool,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.retryable = retryable
        self.maybe_billed = maybe_billed
        self.retry_after = retry_after


_STATUS_HINTS = {
    401: "check {key} (the key was refused)",
    403: "check {key} and that it may use REVIEW_MODEL",
    404: "check REVIEW_MODEL and OPENAI_BASE_URL; a proxy without the Responses API needs REVIEW_API=chat",
    400: "the endpoint refused the request; a proxy that wants max_tokens needs "
    "REVIEW_CHAT_CAP_PARAM=max_tokens",
}


class ModelClient:
    def __init__(self, settings: ReviewSettings) -> None:
        import openai  # the analysis extra; imported here so `trader --help` never needs it

        self._openai = openai
        self.settings = settings
        self.client = openai.AsyncOpenAI(
            api_key=settings.api_key,
            base_url=settings.base_url,
            timeout=settings.timeout_seconds,
            max_retries=0,
        )

    async def aclose(self) -> None:
        await self.client.close()

    async def complete(self, system: str, user: str, max_output_tokens: int) -> Completion:
        try:
            if self.settings.api is ModelApi.responses:
                return await self._responses(system, user, max_output_tokens)
            return await self._chat(system, user, max_output_tokens)
        except self._openai.APITimeoutError:
            raise CallFailed(
                "timeout",
                f"no answer within REVIEW_TIMEOUT_SECONDS={self.settings.timeout_seconds:g}",
                retryable=True,
                maybe_billed=True,
            ) from None
        except self._openai.APIConnectionError as exc:
            raise CallFailed(
                "connection_error", f"{exc} (check OPENAI_BASE_URL)", retryable=True, maybe_billed=True
            ) from None
        except self._openai.APIStatusError as exc:
            raise self._status_failure(exc) from None
        except (json.JSONDecodeError, self._openai.APIResponseValidationError) as exc:
            raise CallFailed(
                "malformed",
                f"the endpoint's answer is not valid JSON of the expected shape: {exc}",
                retryable=True,
                maybe_billed=True,
            ) from None

    def _status_failure(self, exc: openai.APIStatusError) -> CallFailed:
        status = exc.status_code
        hint = _STATUS_HINTS.get(status, "").format(key=self.settings.key_variable)
        message = f"HTTP {status}: {exc.message}" + (f" ({hint})" if hint else "")
        if status == 429:
            headers = exc.response.headers
            ms = headers.get("retry-after-ms")
            wait = float(ms) / 1000 if ms else parse_retry_after(headers.get("retry-after"))
            return CallFailed("rate_limited", message, retryable=True, maybe_billed=False, retry_after=wait)
        # Error answers are not billed; a 5xx is worth one more try, a 4xx is a setting to fix.
        return CallFailed(
            "server_error" if status >= 500 else "http_error",
            message,
            retryable=status >= 500,
            maybe_billed=False,
        )

    async def _chat(self, system: str, user: str, max_output_tokens: int) -> Completion:
        new_field = self.settings.chat_cap_param is ChatCapParam.max_completion_tokens
        omit = self._openai.omit
        reply = await self.client.chat.completions.create(
            model=self.settings.model,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            max_completion_tokens=max_output_tokens if new_field else omit,
            max_tokens=omit if new_field else max_output_tokens,
        )
        if not reply.choices:
            raise CallFailed("malformed", "the answer has no choices", retryable=True, maybe_billed=True)
        choice = reply.choices[0]
        usage = Usage(reply.usage.prompt_tokens, reply.usage.completion_tokens) if reply.usage else None
        return Completion(choice.message.content or "", usage, choice.finish_reason == "length", reply.model)

    async def _responses(self, system: str, user: str, max_output_tokens: int) -> Completion:
        reply = await self.client.responses.create(
            model=self.settings.model, instructions=system, input=user, max_output_tokens=max_output_tokens
        )
        usage = Usage(reply.usage.input_tokens, reply.usage.output_tokens) if reply.usage else None
        details = reply.incomplete_details
        cut = reply.status == "incomplete" and details is not None and details.reason == "max_output_tokens"
        return Completion(reply.output_text, usage, cut, reply.model)
