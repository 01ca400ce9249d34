import pytest

from service.errors import SettingsError
from service.settings import Settings, load_settings


def test_defaults_match_the_documented_ones():
    settings = load_settings({})
    assert settings == Settings()
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 2)
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert (settings.max_upload_mb, settings.max_pages, settings.sync_max_pages, settings.ocr_dpi) == (
        100,
        500,
        20,
        300,
    )
    assert settings.auth_enabled and settings.api_keys == ()


def test_values_are_parsed_from_strings():
    settings = load_settings(
        {
            "LECTOR_PORT": "9001",
            "LECTOR_API_KEYS": " key-one-123 , key-two-456,",
            "LECTOR_AUTH": "OFF",
            "LECTOR_LOG_FORMAT": "console",
            "UNRELATED": "x",
        }
    )
    assert settings.port == 9001
    assert settings.api_keys == ("key-one-123", "key-two-456")
    assert not settings.auth_enabled
    assert settings.log_format == "console"
    assert settings.max_upload_bytes == 100 * 1024 * 1024


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("LECTOR_PORT", "http", "Invalid LECTOR_PORT='http'"),
        ("LECTOR_PORT", "70000", "Invalid LECTOR_PORT='70000': Expected `int` <= 65535"),
        ("LECTOR_WORKERS", "0", "Invalid LECTOR_WORKERS='0'"),
        ("LECTOR_LOG_FORMAT", "xml", "Invalid LECTOR_LOG_FORMAT='xml'"),
        ("LECTOR_REDIS_URL", "localhost:6379", "Invalid LECTOR_REDIS_URL='localhost:6379'"),
        ("LECTOR_OCR_DPI", "10", "Invalid LECTOR_OCR_DPI='10'"),
        (
            "LECTOR_WEBHOOK_ALLOW",
            "10.0.0.0/33",
            "Invalid LECTOR_WEBHOOK_ALLOW='10.0.0.0/33': '10.0.0.0/33' is",
        ),
        ("LECTOR_WEBHOOK_ALLOW", "hooks.internal,a b", "Invalid LECTOR_WEBHOOK_ALLOW='hooks.internal,a b'"),
    ],
)
def test_a_bad_value_names_the_variable(name, value, expected):
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value})
    assert caught.value.message.startswith(expected)
    assert caught.value.message.endswith(".")


def test_a_bad_api_key_is_not_echoed():
    with pytest.raises(SettingsError) as caught:
        load_settings({"LECTOR_API_KEYS": "short"})
    assert "short" not in caught.value.message
    assert "LECTOR_API_KEYS" in caught.value.message


@pytest.mark.parametrize(
    ("spelled", "value"),
    [("on", True), ("ON", True), ("true", True), ("yes", True), ("1", True),
     ("off", False), ("false", False), ("No", False), ("0", False)],
)  # fmt: skip
def test_every_boolean_setting_takes_every_usual_spelling(spelled, value):
    settings = load_settings({"LECTOR_AUTH": spelled, "LECTOR_URL_ALLOW_PRIVATE": spelled})
    assert settings.auth is value and settings.url_allow_private is value


def test_a_wrong_boolean_names_the_accepted_spellings():
    with pytest.raises(SettingsError) as caught:
        load_settings({"LECTOR_URL_ALLOW_PRIVATE": "maybe"})
    assert caught.value.message == (
        "Invalid LECTOR_URL_ALLOW_PRIVATE='maybe': Expected on/off, true/false, yes/no or 1/0."
    )


def test_the_openai_variables_are_read_once_and_the_key_never_shown():
    settings = load_settings({"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "sk-secret"})
    assert (settings.openai_base_url, settings.openai_api_key) == ("http://127.0.0.1:9/v1", "sk-secret")
    assert "sk-secret" not in repr(settings)
