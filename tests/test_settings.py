from __future__ import annotations

import re
from pathlib import Path

import pytest

from ollama_webmgr.errors import SettingsError
from ollama_webmgr.settings import Settings, documented_settings

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_rows() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| `([A-Z_]+)` \| (.*?) \| (.*) \|$", line)
        if match:
            default = match.group(2).strip().strip("`")
            rows[match.group(1)] = (default, match.group(3).strip())
    return rows


def test_every_setting_is_documented_in_the_readme_table() -> None:
    documented = _readme_rows()
    expected = {env: (default, doc) for env, default, doc in documented_settings()}
    assert documented == expected


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({}, env_file=None)
    assert settings.ollama_base_url == "http://localhost:11434"
    assert settings.servers == ("http://localhost:11434",)
    assert settings.store_url.startswith("sqlite:///")


def test_values_are_parsed_and_normalised() -> None:
    settings = Settings.from_env(
        {
            "OLLAMA_BASE_URL": "192.168.1.20",
            "OLLAMA_SERVERS": "gpu-a:11434, https://gpu-b/ ,192.168.1.20",
            "WEBMGR_PORT": "9000",
            "OLLAMA_PULL_TIMEOUT": "1200",
        },
        env_file=None,
    )
    assert settings.servers == (
        "http://192.168.1.20:11434",
        "http://gpu-a:11434",
        "https://gpu-b:443",
    )
    assert settings.port == 9000
    assert settings.pull_timeout == 1200.0


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("WEBMGR_PORT=8100\nLOG_LEVEL=debug\n", encoding="utf-8")
    settings = Settings.from_env({"WEBMGR_PORT": "8200"}, env_file=str(env_file))
    assert settings.port == 8200
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        ("OLLAMA_BASE_URL", "ftp://x", "OLLAMA_BASE_URL : une URL http(s)://hôte"),
        ("WEBMGR_PORT", "eighty", "WEBMGR_PORT : un entier attendu, reçu « eighty »"),
        ("GATEWAY_PORT", "70000", "GATEWAY_PORT : un numéro de port"),
        (
            "OLLAMA_READ_TIMEOUT",
            "-1",
            "OLLAMA_READ_TIMEOUT : un nombre de secondes positif",
        ),
        ("LOG_LEVEL", "loud", "LOG_LEVEL : DEBUG, INFO"),
        ("OLLAMA_LIBRARY_URL", "ollama.com", "OLLAMA_LIBRARY_URL : une URL http://"),
        ("SEED_CACHE_MAX_SIZE", "-1g", "SEED_CACHE_MAX_SIZE : une taille en octets"),
    ],
)
def test_invalid_value_names_the_variable(env: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({env: value}, env_file=None)
    assert caught.value.message.startswith(expected)
    assert "\n" not in caught.value.message


def test_gateway_origins_come_from_the_environment() -> None:
    from ollama_webmgr.gateway.config import GatewayConfig

    settings = Settings.from_env(
        {"GATEWAY_ORIGINS": "https://chat.example.com, chrome-extension://*"},
        env_file=None,
    )
    config = GatewayConfig.from_settings(settings)
    assert config.origins == ("https://chat.example.com", "chrome-extension://*")
    with pytest.raises(SettingsError, match="GATEWAY_ORIGINS"):
        Settings.from_env({"GATEWAY_ORIGINS": "example.com"}, env_file=None)


def test_the_seed_cache_bound_takes_suffixes_and_zero_for_none() -> None:
    assert Settings.from_env({}, env_file=None).seed_cache_max_size == 20 << 30
    for value, expected in (("10g", 10 << 30), ("512M", 512 << 20), ("0", 0)):
        settings = Settings.from_env({"SEED_CACHE_MAX_SIZE": value}, env_file=None)
        assert settings.seed_cache_max_size == expected
