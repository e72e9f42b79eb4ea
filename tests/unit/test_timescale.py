"""TimescaleDB policy SQL from settings. Unit level only: no TimescaleDB server exists on the
build machines, so this path is NOT exercised against a real TimescaleDB (see docs/api.md)."""

from app.core.config import load_settings
from app.db.timescale import HYPERTABLES, policy_statements

TOKEN = "unit-test-token-0123456789"


def test_every_time_series_table_becomes_a_compressed_hypertable() -> None:
    sql = "\n".join(policy_statements(load_settings(api_token=TOKEN, timescale_compress_after_days=3)))
    for table in HYPERTABLES:
        assert f"create_hypertable('{table}', by_range('ts')" in sql, f"{table} is not made a hypertable"
        assert f"add_compression_policy('{table}', interval '3 days')" in sql, f"{table}: compression setting"
    assert "add_retention_policy" not in sql, "no retention unless TIMESCALE_RETENTION_DAYS is set"


def test_retention_follows_the_setting_and_replaces_the_old_policy() -> None:
    statements = policy_statements(load_settings(api_token=TOKEN, timescale_retention_days=400))
    for table in HYPERTABLES:
        remove = statements.index(f"select remove_retention_policy('{table}', if_exists => true)")
        add = statements.index(f"select add_retention_policy('{table}', interval '400 days')")
        assert remove < add, f"{table}: the old retention policy must go before the new one"
