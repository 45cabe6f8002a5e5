"""Settings refuse to run production with a guessable signing secret."""

import pytest
from pydantic import ValidationError

from config import load_settings
from config.settings import DEVELOPMENT_SECRET_KEY


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValidationError, match="TRACKMINT_SECRET_KEY must be set"):
        load_settings(mode="production")


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        load_settings(mode="production", secret_key="s" * 31)


def test_production_accepts_a_long_secret() -> None:
    assert load_settings(mode="production", secret_key="s" * 32).secret_key == "s" * 32


def test_production_refuses_the_default_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKMINT_MODE", "production")
    monkeypatch.delenv("TRACKMINT_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError):
        load_settings()


def test_development_uses_the_marked_default() -> None:
    settings = load_settings(mode="development")
    assert settings.secret_key == DEVELOPMENT_SECRET_KEY
    assert settings.access_token_ttl_seconds == 900
    assert settings.refresh_token_ttl_days == 30
