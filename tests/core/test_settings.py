from __future__ import annotations

from pathlib import Path

import pytest

from saas_server.core.errors import ConfigurationError
from saas_server.core.settings import Settings, resolve_secret_key


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg, arg-type]


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = resolve_secret_key(_settings(tmp_path))
    second = resolve_secret_key(_settings(tmp_path))
    assert first == second and len(first) >= 32
    key_file = tmp_path / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_production_refuses_a_missing_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="SAAS_SECRET_KEY"):
        resolve_secret_key(_settings(tmp_path, env="production"))


def test_production_refuses_a_short_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="at least 32"):
        resolve_secret_key(_settings(tmp_path, env="production", secret_key="short"))
    key = "k" * 40
    assert resolve_secret_key(_settings(tmp_path, env="production", secret_key=key)) == key


def test_environment_variables_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAAS_BASE_DOMAIN", "odoo.example.com")
    monkeypatch.setenv("SAAS_MAIL_BACKEND", "smtp")
    monkeypatch.setenv("SAAS_SMTP_PORT", "2525")
    monkeypatch.setenv("SAAS_PUBLIC_URL", "https://app.example.com/")
    settings = _settings(tmp_path)
    assert settings.base_domain == "odoo.example.com"
    assert settings.mail_backend == "smtp" and settings.smtp_port == 2525
    assert settings.public_url == "https://app.example.com"
