"""Estimates, prices and the caps' messages (no database, no endpoint)."""

from decimal import Decimal

import pytest

from app.ops.review.budget import BudgetRefused, RunBudget, cost_usd, estimate
from app.ops.review.prices import PRICES_AS_OF, UnknownModelPrice, price_for


def test_the_prompt_bound_counts_utf8_bytes_not_characters() -> None:
    price = price_for("gpt-4o-mini")
    ascii_ = estimate([{"role": "user", "content": "a" * 100}], 10, price)
    accented = estimate([{"role": "user", "content": "é" * 100}], 10, price)
    assert ascii_.prompt_tokens_max == 100 + 4 + 3, "bytes + per-message overhead + reply priming"
    assert accented.prompt_tokens_max == 200 + 4 + 3, "each é is 2 UTF-8 bytes, so up to 2 tokens"
    assert ascii_.prompt_tokens_typical == 25 + 7, "the typical figure assumes 4 bytes per token"


def test_worst_case_is_the_bound_plus_the_full_output_cap() -> None:
    est = estimate([{"role": "user", "content": "x" * 993}], 1000, price_for("gpt-4o-mini"))
    # 1000 prompt tokens at $0.15/1M + 1000 output tokens at $0.60/1M
    assert est.worst_case_usd == Decimal("0.00075"), est.worst_case_usd


def test_dated_snapshots_take_their_family_price_and_unknown_models_name_the_fix() -> None:
    assert price_for("gpt-4o-mini-2024-07-18").input_per_mtok == Decimal("0.15")
    assert price_for("gpt-4o-2024-08-06").input_per_mtok == Decimal("2.50")
    assert str(PRICES_AS_OF) in price_for("gpt-4.1-mini").source
    with pytest.raises(
        UnknownModelPrice, match="REVIEW_PRICE_INPUT_PER_MTOK and REVIEW_PRICE_OUTPUT_PER_MTOK"
    ):
        price_for("llama-3-70b")
    assert price_for("llama-3-70b", Decimal(1), Decimal(2)).output_per_mtok == Decimal(2)


def test_run_budget_refuses_with_estimate_and_cap_and_counts_earlier_attempts() -> None:
    price = price_for("gpt-4o-mini")
    est = estimate([{"role": "user", "content": "x" * 993}], 1000, price)
    budget = RunBudget(Decimal("0.001"))
    budget.check(est)  # 0.00075 fits
    budget.spent_usd += est.worst_case_usd
    with pytest.raises(BudgetRefused) as refused:
        budget.check(est)
    message = str(refused.value)
    assert "$0.000750" in message and "REVIEW_RUN_CAP_USD=$0.001" in message, message
    assert "$0.000750 of it already spent" in message, message
    assert cost_usd(price, 1_000_000, 0) == Decimal("0.15")
