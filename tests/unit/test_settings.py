from pathlib import Path

import pytest

from freshrag.settings import SettingsError, load_settings


def test_environment_values_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRESHRAG_WATCH", "/a:/b")
    monkeypatch.setenv("FRESHRAG_PORT", "9001")
    monkeypatch.setenv("FRESHRAG_IGNORE_PATTERNS", "*.log, *.csv")
    settings = load_settings()
    assert settings.watch == (Path("/a"), Path("/b"))
    assert settings.port == 9001
    assert settings.ignore_patterns == ("*.log", "*.csv")
    assert settings.embedded


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FRESHRAG_PORT", "eighty"),
        ("FRESHRAG_EMBEDDING_BACKEND", "tensorflow"),
        ("FRESHRAG_BROKER_URL", "amqp://x"),
        ("FRESHRAG_WEBHOOK_SECRET_GENERIC", "whsec_not@base64"),
    ],
)
def test_a_bad_value_names_the_setting(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRESHRAG_PORT", "9001")
    assert load_settings(port=9002).port == 9002


def test_a_golden_set_must_be_in_beir_layout(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"FRESHRAG_GOLDEN_SET: .*qrels/test.tsv missing"):
        load_settings(golden_set=tmp_path)
    assert load_settings(golden_set="").golden_set is None  # an unset variable passed through


def test_the_embedded_canary_needs_two_worker_slots() -> None:
    with pytest.raises(SettingsError, match="FRESHRAG_WORKER_CONCURRENCY must be at least 2"):
        load_settings(worker_concurrency=1)
    assert load_settings(worker_concurrency=1, canary_interval_seconds=0).worker_concurrency == 1


@pytest.mark.parametrize(
    "token", ["", "   ", "short-token", "fifteen-chars!!", " padded-but-long-enough-token "]
)
def test_a_blank_short_or_padded_api_token_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    monkeypatch.setenv("FRESHRAG_API_TOKEN", token)
    with pytest.raises(SettingsError, match="FRESHRAG_API_TOKEN") as refused:
        load_settings()
    if token.strip():
        assert token.strip() not in str(refused.value)


def test_an_api_token_of_16_characters_or_more_is_taken() -> None:
    token = "sixteen-chars-ok"  # noqa: S105  (a test token)
    assert load_settings(api_token=token).api_token == token


def test_a_bad_secret_is_named_but_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRESHRAG_WEBHOOK_SECRET_GENERIC", "whsec_not@base64-but-secret")
    with pytest.raises(SettingsError, match="FRESHRAG_WEBHOOK_SECRET_GENERIC") as refused:
        load_settings()
    assert "not@base64" not in str(refused.value)
