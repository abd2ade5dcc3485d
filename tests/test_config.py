from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from kettle.config import DEFAULTS, Config, KettleWarning, parse_size
from kettle.exceptions import ConfigError

MiB = 1024 * 1024
GOOD_KEY = "k" * 32


# --- defaults ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("DEBUG", False),
        ("TESTING", False),
        ("SECRET_KEY", None),
        ("MAX_BODY_SIZE", MiB),
        ("MAX_QUERY_PARAMS", 1000),
        ("MAX_FORM_FIELDS", 1000),
        ("MAX_FORM_FILES", 1000),
        ("MAX_FORM_PART_SIZE", MiB),
        ("FORM_SPOOL_THRESHOLD", MiB),
        ("MAX_PATH_LENGTH", 8192),
        ("THREAD_POOL_SIZE", 40),
        ("STRICT_SLASHES", False),
        ("SERVER_NAME", None),
        ("PREFERRED_URL_SCHEME", "http"),
        ("GC_FREEZE", True),
    ],
)
def test_default(key: str, value: Any) -> None:
    config = Config()
    assert config[key] == value
    assert type(config[key]) is type(value)
    assert DEFAULTS[key] == value


def test_defaults_are_exactly_the_documented_keys() -> None:
    assert set(Config()) == set(DEFAULTS)
    assert len(DEFAULTS) == 39
    for key in DEFAULTS:
        assert f"``{key}``" in (Config.__doc__ or "")


def test_defaults_validate_unchanged() -> None:
    config = Config()
    config.validate()
    assert config == dict(DEFAULTS)


def test_defaults_mapping_is_read_only_and_configs_are_independent() -> None:
    with pytest.raises(TypeError):
        DEFAULTS["DEBUG"] = True  # type: ignore[index]
    a, b = Config(), Config()
    a["DEBUG"] = True
    assert b["DEBUG"] is False


def test_constructor_defaults_then_overrides() -> None:
    config = Config({"DEBUG": True, "EXTENSION_LIMIT": 5}, EXTENSION_LIMIT=6)
    assert config["DEBUG"] is True
    assert config["EXTENSION_LIMIT"] == 6
    assert config["MAX_BODY_SIZE"] == MiB


@pytest.mark.parametrize("args", [({"debug": True}, {}), (None, {"debug": True})])
def test_constructor_rejects_lowercase_keys(args: tuple[Any, dict[str, Any]]) -> None:
    defaults, overrides = args
    with pytest.raises(ConfigError, match="'debug'"):
        Config(defaults, **overrides)


def test_copy_is_a_config() -> None:
    config = Config(DEBUG=True, EXTRA=1)
    clone = config.copy()
    assert isinstance(clone, Config)
    assert clone == config
    clone["DEBUG"] = False
    assert config["DEBUG"] is True


def test_repr_masks_secrets() -> None:
    config = Config(SECRET_KEY="super-secret-value", DB_PASSWORD="hunter2", API_TOKEN="t")
    text = repr(config)
    assert text.startswith("Config(")
    assert "super-secret-value" not in text
    assert "hunter2" not in text
    assert "'API_TOKEN': '***'" in text
    assert "'MAX_BODY_SIZE': 1048576" in text


# --- parse_size -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (1234, 1234),
        ("0", 0),
        ("1234", 1234),
        (" 1234 ", 1234),
        ("10B", 10),
        ("10MB", 10_000_000),
        ("10mb", 10_000_000),
        ("10 MB", 10_000_000),
        ("1KB", 1000),
        ("1GB", 1_000_000_000),
        ("1.5GB", 1_500_000_000),
        ("1KiB", 1024),
        ("1 MiB", MiB),
        ("1mib", MiB),
        ("2GiB", 2 * 1024**3),
        ("512k", 512 * 1024),
        ("512K", 512 * 1024),
        ("1m", MiB),
        ("1g", 1024**3),
        ("1.5k", 1536),
        ("1.1k", 1126),
        (".5MiB", MiB // 2),
    ],
)
def test_parse_size(value: str | int, expected: int) -> None:
    assert parse_size(value) == expected


@pytest.mark.parametrize(
    "value",
    ["10MBx", "-1", -1, "", "   ", "abc", "MB", "1.", "1..5MB", "1 2", "10 M B", "1e6", "1TB"],
)
def test_parse_size_rejects(value: str | int) -> None:
    with pytest.raises(ConfigError, match="invalid size") as info:
        parse_size(value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("value", [True, 1.5, None, b"10"])
def test_parse_size_rejects_other_types(value: Any) -> None:
    with pytest.raises(ConfigError, match="invalid size"):
        parse_size(value)


# --- from_mapping / from_object ---------------------------------------------------------


def test_from_mapping_takes_only_uppercase_keys() -> None:
    config = Config()
    count = config.from_mapping({"DEBUG": True, "lower": 1, "Mixed": 2, "_PRIVATE": 3, "X": 4})
    assert count == 2
    assert config["DEBUG"] is True
    assert config["X"] == 4
    assert "lower" not in config
    assert "Mixed" not in config
    assert "_PRIVATE" not in config


class Settings:
    DEBUG = True
    MAX_BODY_SIZE = "10MB"
    lowercase = "ignored"


def test_from_object_class() -> None:
    config = Config()
    assert config.from_object(Settings) == 2
    assert config["DEBUG"] is True
    assert config["MAX_BODY_SIZE"] == "10MB"
    assert "lowercase" not in config


@pytest.fixture
def settings_module(monkeypatch: pytest.MonkeyPatch) -> str:
    module = types.ModuleType("kettle_test_settings")
    module.DEBUG = True  # type: ignore[attr-defined]
    module.Production = Settings  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module.__name__


@pytest.mark.parametrize("suffix", ["", ":Production", ".Production"])
def test_from_object_import_string(settings_module: str, suffix: str) -> None:
    config = Config()
    config.from_object(settings_module + suffix)
    assert config["DEBUG"] is True


@pytest.mark.parametrize(
    "target", ["kettle_no_such_module", "kettle_test_settings:Nope", "kettle_test_settings.Nope"]
)
def test_from_object_bad_import_string(settings_module: str, target: str) -> None:
    with pytest.raises(ConfigError, match=target):
        Config().from_object(target)


# --- from_env ---------------------------------------------------------------------------


def test_from_env_coerces_known_keys() -> None:
    environ = {
        "KETTLE_DEBUG": "1",
        "KETTLE_STRICT_SLASHES": "Yes",
        "KETTLE_MAX_BODY_SIZE": "10MB",
        "KETTLE_FORM_SPOOL_THRESHOLD": "512k",
        "KETTLE_MAX_FORM_PART_SIZE": "2048",
        "KETTLE_THREAD_POOL_SIZE": "8",
        "KETTLE_SECRET_KEY": GOOD_KEY,
        "KETTLE_SERVER_NAME": "example.com",
        "KETTLE_PREFERRED_URL_SCHEME": "HTTPS",
        "OTHER_DEBUG": "1",
        "PATH": "/usr/bin",
    }
    config = Config()
    assert config.from_env(environ=environ) == 9
    assert config["DEBUG"] is True
    assert config["STRICT_SLASHES"] is True
    assert config["MAX_BODY_SIZE"] == 10_000_000
    assert config["FORM_SPOOL_THRESHOLD"] == 512 * 1024
    assert config["MAX_FORM_PART_SIZE"] == 2048
    assert config["THREAD_POOL_SIZE"] == 8
    assert config["SECRET_KEY"] == GOOD_KEY
    assert config["SERVER_NAME"] == "example.com"
    assert config["PREFERRED_URL_SCHEME"] == "https"
    assert "PATH" not in config


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[(word, True) for word in ["1", "true", "TRUE", "yes", "Yes", "on", "ON"]],
        *[(word, False) for word in ["0", "false", "False", "no", "NO", "off", "Off"]],
    ],
)
def test_from_env_bool_spellings(raw: str, expected: bool) -> None:
    config = Config()
    config.from_env(environ={"KETTLE_TESTING": raw})
    assert config["TESTING"] is expected


@pytest.mark.parametrize(
    ("var", "raw"),
    [
        ("KETTLE_DEBUG", "maybe"),
        ("KETTLE_DEBUG", "2"),
        ("KETTLE_DEBUG", ""),
        ("KETTLE_MAX_QUERY_PARAMS", "lots"),
        ("KETTLE_MAX_QUERY_PARAMS", "1.5"),
        ("KETTLE_MAX_QUERY_PARAMS", "-1"),
        ("KETTLE_THREAD_POOL_SIZE", "0"),
        ("KETTLE_MAX_BODY_SIZE", "10MBx"),
        ("KETTLE_MAX_BODY_SIZE", "-5"),
        ("KETTLE_PREFERRED_URL_SCHEME", "ftp"),
    ],
)
def test_from_env_bad_values_name_the_variable(var: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=var):
        Config().from_env(environ={var: raw})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("42", 42),
        ("-3", -3),
        ("1.5", 1.5),
        ("true", True),
        ("false", False),
        ('["a", "b"]', ["a", "b"]),
        ("[1, 2]", [1, 2]),
        ('{"a": 1}', {"a": 1}),
        ("{ a = 1 }", {"a": 1}),
        ("hello world", "hello world"),
        ("postgres://db/app", "postgres://db/app"),
        ("yes", "yes"),
        ("nan", "nan"),
        ("inf", "inf"),
        ("null", "null"),
        ("2024-01-01", "2024-01-01"),
        ("", ""),
    ],
)
def test_from_env_unknown_keys_literal_or_string(raw: str, expected: Any) -> None:
    config = Config()
    assert config.from_env(environ={"KETTLE_MY_SETTING": raw}) == 1
    assert config["MY_SETTING"] == expected
    assert type(config["MY_SETTING"]) is type(expected)


def test_from_env_custom_prefix_and_lowercase_names_skipped() -> None:
    config = Config()
    loaded = config.from_env(
        prefix="MYAPP_",
        environ={"MYAPP_DEBUG": "on", "MYAPP_lower": "1", "MYAPP_": "x", "KETTLE_TESTING": "1"},
    )
    assert loaded == 1
    assert config["DEBUG"] is True
    assert config["TESTING"] is False


def test_from_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KETTLE_TEST_ONLY_FLAG", "7")
    config = Config()
    assert config.from_env() >= 1
    assert config["TEST_ONLY_FLAG"] == 7


# --- from_toml --------------------------------------------------------------------------


def test_from_toml_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "kettle.toml"
    path.write_text('debug = true\nmax_body_size = "10MB"\nSERVER_NAME = "example.com"\n')
    config = Config()
    assert config.from_toml(path) == 3
    assert config["DEBUG"] is True
    assert config["SERVER_NAME"] == "example.com"
    config.validate()
    assert config["MAX_BODY_SIZE"] == 10_000_000


@pytest.mark.parametrize(
    ("section", "text"),
    [
        ("kettle", "[other]\ndebug = false\n[kettle]\ndebug = true\nthread_pool_size = 4\n"),
        (
            "tool.kettle",
            "[project]\nname = 'x'\n[tool.kettle]\ndebug = true\nthread_pool_size = 4\n",
        ),
    ],
)
def test_from_toml_section(tmp_path: Path, section: str, text: str) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(text)
    config = Config()
    assert config.from_toml(str(path), section=section) == 2
    assert config["DEBUG"] is True
    assert config["THREAD_POOL_SIZE"] == 4
    assert "OTHER" not in config
    assert "PROJECT" not in config


def test_from_toml_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="not found") as info:
        Config().from_toml(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "section", "match"),
    [
        ("debug = \n", None, "cannot read"),
        ("debug = true\n", "kettle", r"no \[kettle\] table"),
        ("kettle = 1\n", "kettle", r"no \[kettle\] table"),
        ("[tool]\nx = 1\n", "tool.kettle", r"no \[tool.kettle\] table"),
        ('"max-body-size" = 1\n', None, "'max-body-size'"),
    ],
)
def test_from_toml_errors(tmp_path: Path, text: str, section: str | None, match: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        Config().from_toml(path, section=section)
    assert str(path) in str(info.value)


# --- validate ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("MAX_BODY_SIZE", "10MB", 10_000_000),
        ("MAX_FORM_PART_SIZE", "1 MiB", MiB),
        ("FORM_SPOOL_THRESHOLD", 4096, 4096),
        ("DEBUG", "yes", True),
        ("TESTING", True, True),
        ("MAX_QUERY_PARAMS", "50", 50),
        ("MAX_FORM_FILES", 0, 0),
        ("PREFERRED_URL_SCHEME", "HTTPS", "https"),
        ("SECRET_KEY", GOOD_KEY, GOOD_KEY),
    ],
)
def test_validate_normalises(key: str, value: Any, expected: Any) -> None:
    config = Config()
    config[key] = value
    config.validate()
    assert config[key] == expected
    assert type(config[key]) is type(expected)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("DEBUG", 1),
        ("DEBUG", "sometimes"),
        ("STRICT_SLASHES", None),
        ("MAX_BODY_SIZE", "huge"),
        ("MAX_BODY_SIZE", 1.5),
        ("MAX_BODY_SIZE", -1),
        ("MAX_QUERY_PARAMS", True),
        ("MAX_QUERY_PARAMS", 2.0),
        ("MAX_FORM_FIELDS", -1),
        ("MAX_PATH_LENGTH", 0),
        ("THREAD_POOL_SIZE", 0),
        ("SECRET_KEY", b"bytes-key"),
        ("SERVER_NAME", 8080),
        ("PREFERRED_URL_SCHEME", "ws"),
    ],
)
def test_validate_rejects(key: str, value: Any) -> None:
    config = Config()
    config[key] = value
    with pytest.raises(ConfigError, match=key):
        config.validate()


def test_validate_restores_deleted_keys_and_keeps_unknown_ones() -> None:
    config = Config(EXTRA="anything")
    del config["THREAD_POOL_SIZE"]
    config.validate()
    assert config["THREAD_POOL_SIZE"] == 40
    assert config["EXTRA"] == "anything"


# --- resolve_secret_key -----------------------------------------------------------------


def test_secret_key_returned_when_set() -> None:
    assert Config(SECRET_KEY=GOOD_KEY).resolve_secret_key() == GOOD_KEY


@pytest.mark.parametrize("key", [None, ""])
def test_secret_key_missing_in_production(key: str | None) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY is not set") as info:
        Config(SECRET_KEY=key).resolve_secret_key()
    message = str(info.value)
    assert "KETTLE_SECRET_KEY" in message
    assert "app.config['SECRET_KEY']" in message
    assert "secrets.token_urlsafe(32)" in message


def test_secret_key_too_short_in_production() -> None:
    with pytest.raises(ConfigError, match="too short"):
        Config(SECRET_KEY="x" * 15).resolve_secret_key()
    assert Config(SECRET_KEY="x" * 16).resolve_secret_key() == "x" * 16


@pytest.mark.parametrize("flag", ["DEBUG", "TESTING"])
def test_short_secret_key_allowed_in_debug_and_testing(flag: str) -> None:
    assert Config({flag: True}, SECRET_KEY="short").resolve_secret_key() == "short"


def test_secret_key_generated_with_warning_in_debug() -> None:
    config = Config(DEBUG=True)
    with pytest.warns(KettleWarning, match="will not survive a restart"):
        key = config.resolve_secret_key()
    assert len(key) >= 32
    assert config["SECRET_KEY"] == key
    # Stored: the same key again, and no second warning (filterwarnings=error would fail).
    assert config.resolve_secret_key() == key


@pytest.mark.parametrize("flags", [{"TESTING": True}, {"TESTING": True, "DEBUG": True}])
def test_secret_key_generated_silently_in_testing(flags: dict[str, bool]) -> None:
    config = Config(flags)
    key = config.resolve_secret_key()
    assert len(key) >= 32
    assert Config(flags).resolve_secret_key() != key


def test_secret_key_reads_unvalidated_flags() -> None:
    config = Config(TESTING="1")
    assert config.resolve_secret_key()


def test_kettle_warning_is_a_user_warning() -> None:
    assert issubclass(KettleWarning, UserWarning)
