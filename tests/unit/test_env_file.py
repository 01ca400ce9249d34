"""``--env-file``: systemd's EnvironmentFile lines read as systemd reads them, and every other
line refused with its number, never with its value."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cli.envfile import load_env_file, read_env_file
from service.errors import SettingsError
from service.settings import load_settings

SECRET = "s3cr3t-value-that-must-not-be-echoed"


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lector.env"
    path.write_text(text)
    return path


def test_comments_blanks_quotes_and_escapes_read_as_systemd_reads_them(tmp_path):
    path = written(
        tmp_path,
        "# the shared settings\n"
        "; also a comment\n"
        "\n"
        "LECTOR_REDIS_URL=redis://:pw@10.0.0.5:6379/0\n"
        "  LECTOR_PORT = 8080  \n"
        "LECTOR_SECRET='single # quoted $NOT expanded \\n'\n"
        'LECTOR_ADMIN_KEY="double \\"quoted\\" \\\\ \\$HOME \\n kept"\n'
        "LECTOR_LOG_LEVEL=debug # not a comment: systemd keeps it\n"
        "AWS_REGION=eu-west-1\n"
        "LECTOR_WORKERS=1\n"
        "LECTOR_WORKERS=3\n"
        "OTHER_TOOL=a\\ b\\\\c\n",
    )
    assert read_env_file(path) == {
        "LECTOR_REDIS_URL": "redis://:pw@10.0.0.5:6379/0",
        "LECTOR_PORT": "8080",
        "LECTOR_SECRET": "single # quoted $NOT expanded \\n",
        "LECTOR_ADMIN_KEY": 'double "quoted" \\ $HOME \\n kept',
        "LECTOR_LOG_LEVEL": "debug # not a comment: systemd keeps it",
        "AWS_REGION": "eu-west-1",
        "LECTOR_WORKERS": "3",  # the later line wins
        "OTHER_TOOL": "a b\\c",
    }


def test_the_environment_wins_over_the_file(tmp_path):
    path = written(tmp_path, "LECTOR_PORT=8080\nLECTOR_WORKERS=3\n")
    environ = {"LECTOR_PORT": "9000"}
    load_env_file(path, environ)
    assert environ == {"LECTOR_PORT": "9000", "LECTOR_WORKERS": "3"}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (f"LECTOR_SECRET {SECRET}", "line 2: no '='"),
        (f"export LECTOR_SECRET={SECRET}", "line 2: what comes before '=' is not a variable name"),
        (f"1ECTOR={SECRET}", "line 2: what comes before '=' is not a variable name"),
        (f"LECTOR_SECRET: {SECRET[:6]}={SECRET[6:]}", "line 2: what comes before '=' is not"),
        (f'LECTOR_SECRET="{SECRET}', "line 2: a quoted value with no closing quote"),
        (f"LECTOR_SECRET='{SECRET}'x", "line 2: text after the closing quote"),
        (f"LECTOR_SECRET={SECRET}\\", "line 2: a final backslash"),
        (f"LECTOR_SECERT={SECRET}", "line 2: LECTOR_SECERT is not a setting of Lector"),
    ],
)
def test_a_malformed_line_is_one_sentence_with_its_number_and_without_its_value(tmp_path, line, reason):
    path = written(tmp_path, f"# shared\n{line}\nLECTOR_PORT=8080\n")
    with pytest.raises(SettingsError) as refused:
        read_env_file(path)
    message = refused.value.message
    assert message.startswith(f"{path} {reason}"), message
    assert SECRET[:6] not in message and message.endswith(".") and "\n" not in message


def test_a_retired_setting_is_left_to_the_settings_to_explain(tmp_path):
    path = written(tmp_path, "LECTOR_BLOB_DIR=/srv/blobs\n")
    environ: dict[str, str] = {}
    load_env_file(path, environ)
    with pytest.raises(SettingsError, match="LECTOR_BLOB_DIR is no longer read: set LECTOR_STORAGE_URL"):
        load_settings(environ)


def test_a_missing_or_unreadable_file_is_one_sentence(tmp_path):
    with pytest.raises(SettingsError, match=r"^Cannot read the env file .*nope\.env: No such file"):
        read_env_file(tmp_path / "nope.env")
    with pytest.raises(SettingsError, match="Is a directory"):
        read_env_file(tmp_path)
    latin = tmp_path / "latin.env"
    latin.write_bytes(b"LECTOR_SECRET=caf\xe9\n")
    with pytest.raises(SettingsError, match="is not UTF-8 text"):
        read_env_file(latin)
