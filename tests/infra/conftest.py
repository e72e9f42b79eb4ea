import warnings

import pytest

# pulumi_digitalocean warns about its own deprecated resources at import; import it once here,
# quietly, so those warnings do not bury the test report.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import pulumi_digitalocean  # noqa: F401


@pytest.fixture(autouse=True)
def _restore_pulumi_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness sets PULUMI_CONFIG like the CLI does; undo it after each test."""
    monkeypatch.setenv("PULUMI_CONFIG", "{}")
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", "[]")
