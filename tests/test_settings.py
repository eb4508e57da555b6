"""Settings: option, then environment, then backend-kit.toml, then the default."""

from __future__ import annotations

import pytest

from runner.errors import UsageError
from runner.settings import DEFAULT_IMAGES, load


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("PROVIDER", "DATABASE_URL", "REDIS_URL", "POSTGRES_IMAGE", "REDIS_IMAGE", "PYTHON_IMAGE", "CONFIG"):
        monkeypatch.delenv(f"BACKEND_KIT_{name}", raising=False)


def test_defaults_are_embedded_and_official_images(tmp_path):
    """With nothing set, grading is embedded and images are the official ones."""
    settings = load(tmp_path)
    assert (settings.provider, settings.images, settings.explicit_images) == ("embedded", DEFAULT_IMAGES, frozenset())


def test_config_file_then_environment_then_option(tmp_path, monkeypatch):
    """Each source overrides the one before it."""
    (tmp_path / "backend-kit.toml").write_text(
        '[services]\nprovider = "docker"\npostgres_image = "from-file:1"\nredis_image = "from-file:2"\n'
    )
    assert load(tmp_path).images["postgres"] == "from-file:1"
    monkeypatch.setenv("BACKEND_KIT_POSTGRES_IMAGE", "from-env:1")
    settings = load(tmp_path)
    assert (settings.provider, settings.images["postgres"], settings.images["redis"]) == (
        "docker", "from-env:1", "from-file:2")
    assert load(tmp_path, provider="embedded").provider == "embedded"
    assert settings.explicit_images == frozenset({"postgres", "redis"})


def test_urls_imply_the_url_provider(tmp_path):
    """Giving a database or Redis URL without a provider means the url provider."""
    assert load(tmp_path, database_url="postgresql://u:p@h/db").provider == "url"


def test_unknown_config_key_is_a_usage_error(tmp_path):
    """A typo in backend-kit.toml is reported with the keys that are allowed."""
    (tmp_path / "backend-kit.toml").write_text('[services]\nprovder = "docker"\n')
    with pytest.raises(UsageError, match="unknown keys \\['provder'\\]"):
        load(tmp_path)


def test_unknown_provider_is_a_usage_error(tmp_path):
    """Only embedded, url and docker exist."""
    with pytest.raises(UsageError, match="unknown provider 'kubernetes'"):
        load(tmp_path, provider="kubernetes")
