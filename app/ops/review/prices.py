"""What each model costs, in USD per 1M tokens, as OpenAI's pricing page listed them on PRICES_AS_OF.

Prices change: check https://openai.com/api/pricing before trusting a cap to the cent, and edit
this table (and its date) when they do. A model missing here, or a proxy that bills its own rates,
is priced with REVIEW_PRICE_INPUT_PER_MTOK / REVIEW_PRICE_OUTPUT_PER_MTOK. Cached-input discounts
are ignored on purpose: charging full price keeps every estimate on the safe side.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

PRICES_AS_OF = date(2026, 3, 31)


@dataclass(frozen=True)
class Price:
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    source: str  # "prices.py (2026-03-31)" or the override variables' names


PRICES_PER_MTOK: dict[str, tuple[str, str]] = {
    "gpt-4o-mini": ("0.15", "0.60"),
    "gpt-4o": ("2.50", "10.00"),
    "gpt-4.1-nano": ("0.10", "0.40"),
    "gpt-4.1-mini": ("0.40", "1.60"),
    "gpt-4.1": ("2.00", "8.00"),
    "gpt-5-nano": ("0.05", "0.40"),
    "gpt-5-mini": ("0.25", "2.00"),
    "gpt-5": ("1.25", "10.00"),
}


class UnknownModelPrice(LookupError):
    pass


def price_for(
    model: str, input_override: Decimal | None = None, output_override: Decimal | None = None
) -> Price:
    """The override when given, else the table entry whose name is the longest prefix of `model`
    (so a dated snapshot such as gpt-4o-mini-2024-07-18 is priced as gpt-4o-mini)."""
    if input_override is not None and output_override is not None:
        return Price(
            input_override, output_override, "REVIEW_PRICE_INPUT_PER_MTOK/REVIEW_PRICE_OUTPUT_PER_MTOK"
        )
    matches = [name for name in PRICES_PER_MTOK if model == name or model.startswith(f"{name}-")]
    if not matches:
        raise UnknownModelPrice(
            f"no price for REVIEW_MODEL={model!r} in app/ops/review/prices.py (known: "
            f"{', '.join(sorted(PRICES_PER_MTOK))}): set REVIEW_PRICE_INPUT_PER_MTOK and "
            "REVIEW_PRICE_OUTPUT_PER_MTOK (USD per 1M tokens) or pick a listed model"
        )
    inp, out = PRICES_PER_MTOK[max(matches, key=len)]
    return Price(Decimal(inp), Decimal(out), f"prices.py ({PRICES_AS_OF.isoformat()})")
