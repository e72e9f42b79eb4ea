"""Settings errors name the variable; current values are read, and proposals are checked."""

from pathlib import Path

import pytest

from app.ops.review.prompt import parse_reply
from app.ops.review.settings import ReviewSettingsError, load_review_settings
from app.ops.review.tunables import TUNABLE, check_actions, current_values


def test_settings_errors_name_each_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEW_MAX_RETRIES", "3")
    monkeypatch.setenv("REVIEW_RUN_CAP_USD", "0")
    with pytest.raises(ReviewSettingsError) as err:
        load_review_settings()
    assert "REVIEW_MAX_RETRIES" in str(err.value) and "REVIEW_RUN_CAP_USD" in str(err.value), err.value


def test_the_proxy_key_wins_only_with_a_proxy_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("CHATDATA_API_KEY", "cd-proxy")
    assert load_review_settings().key_variable == "OPENAI_API_KEY", "no proxy URL: the proxy key stays unused"
    proxied = load_review_settings(base_url="http://127.0.0.1:9/v1")
    assert (proxied.key_variable, proxied.api_key) == ("CHATDATA_API_KEY", "cd-proxy")


def test_current_values_come_from_the_env_file_then_defaults(tmp_path: Path) -> None:
    env_file = tmp_path / "trader.env"
    env_file.write_text("MAX_ORDER_QTY=25\nSYMBOL_ALLOWLIST=AAPL,MSFT\n")
    current = current_values(env_file)
    assert set(current) == set(TUNABLE)
    assert (current["MAX_ORDER_QTY"], current["SYMBOL_ALLOWLIST"], current["HTTP_MAX_RETRIES"]) == (
        "25",
        "AAPL,MSFT",
        "3",
    ), current


def test_proposals_are_checked_against_the_services_own_field_rules() -> None:
    current = {"MAX_ORDER_QTY": "100", "ALERT_PROVIDER_ERROR_RATIO": "0.5"}
    actions, dropped = check_actions(
        [
            {"setting": "max_order_qty", "proposed": "60", "reason": "r"},
            {"setting": "ALERT_PROVIDER_ERROR_RATIO", "proposed": "1.5"},
            {"setting": "ALERT_PROVIDER_ERROR_RATIO", "proposed": "0.5"},
            "raise everything",
        ],
        current,
    )
    assert [(a.setting, a.current, a.proposed) for a in actions] == [("MAX_ORDER_QTY", "100", "60")]
    assert dropped[0].startswith("ALERT_PROVIDER_ERROR_RATIO=1.5: Input should be less than or equal to 1"), (
        dropped
    )
    assert "equals the current one" in dropped[1] and dropped[2].startswith("not an object"), dropped


def test_replies_in_a_code_fence_are_read_and_prose_is_kept_as_text() -> None:
    fenced = parse_reply('```json\n{"summary": "s", "actions": [{"setting": "X"}]}\n```')
    assert (fenced.summary, fenced.proposals, fenced.structured) == ("s", [{"setting": "X"}], True)
    prose = parse_reply("The week was fine.")
    assert (prose.summary, prose.proposals, prose.structured) == ("The week was fine.", [], False)
