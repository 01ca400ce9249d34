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


def test_the_speech_server_is_read_and_its_key_never_shown():
    settings = load_settings(
        {
            "LECTOR_ASR_MODEL": "whisper-1",
            "LECTOR_ASR_BASE_URL": "http://127.0.0.1:9/v1",
            "LECTOR_ASR_API_KEY": "sk-speech",
            "LECTOR_ASR_TIMEOUT_S": "300",
        }
    )
    assert (settings.asr_model, settings.asr_base_url, settings.asr_api_key, settings.asr_timeout_s) == (
        "whisper-1",
        "http://127.0.0.1:9/v1",
        "sk-speech",
        300,
    )
    assert "sk-speech" not in repr(settings)
    with pytest.raises(SettingsError, match="LECTOR_ASR_BASE_URL='ftp://x'"):
        load_settings({"LECTOR_ASR_BASE_URL": "ftp://x"})


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("https://ocr.example.com/?a=1", "it may not have a query or a fragment"),
        ("https://ocr.example.com/#top", "it may not have a query or a fragment"),
        ("https://", "use an http or https URL with a host"),
        ("https://ocr.example.com:99999", "it is not a URL"),
        ("https://ocr.example.com/a b", "it may not hold spaces or backslashes"),
        ("ftp://ocr.example.com", "Expected `str` matching regex"),
    ],
)
def test_the_public_url_is_an_http_address_without_a_query(value, reason):
    with pytest.raises(SettingsError) as refused:
        load_settings({"LECTOR_PUBLIC_URL": value})
    assert refused.value.message.startswith(f"Invalid LECTOR_PUBLIC_URL={value!r}: {reason}")


def test_a_public_url_with_a_password_is_refused_without_showing_it():
    with pytest.raises(SettingsError) as refused:
        load_settings({"LECTOR_PUBLIC_URL": "https://user:pa55word@ocr.example.com"})
    assert refused.value.message == (
        "Invalid LECTOR_PUBLIC_URL=<hidden>: it may not hold a user name or password."
    )


def test_trusted_proxies_are_addresses_and_ranges():
    assert Settings().trusted_proxies == ("127.0.0.1", "::1")
    given = load_settings({"LECTOR_TRUSTED_PROXIES": " 10.0.0.0/8, fd00::1 ,"})
    assert given.trusted_proxies == ("10.0.0.0/8", "fd00::1")
    assert load_settings({"LECTOR_TRUSTED_PROXIES": ""}).trusted_proxies == ()
    for bad in ("proxy.internal", "10.0.0.1/99"):
        with pytest.raises(SettingsError, match=r"^Invalid LECTOR_TRUSTED_PROXIES="):
            load_settings({"LECTOR_TRUSTED_PROXIES": bad})
