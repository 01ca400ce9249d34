"""The documentation agrees with the code: every generated part is current, the examples have
the answer's shape, and every command shown names a real target, flag, route or file.

The commands that can run here are run by tests/integration/test_doc_examples.py.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
import pytest

from fixtures.generate import RECEIPT_FIELDS, receipt
from service.models import OcrData, RawResponse, Word
from service.reference import DOCUMENTS, README, render
from service.settings import Settings, env_name
from service.typeinfo import fields_of
from tests.benchmarks.__main__ import ALL as BENCHMARKS
from tests.benchmarks.tables import BENCHMARKS_MD, replace_section
from tests.doc_commands import (
    DOCUMENTS as DOC_FILES,
)
from tests.doc_commands import (
    EXAMPLE_URL,
    Command,
    commands,
    json_block,
    simple_commands,
    without_env,
)
from tests.helpers import ROOT

ALL_COMMANDS = commands()
#: Shell helpers the examples use around Lector's own commands (and to install it as a service).
HELPERS = {"printf", "base64", "cat", "kill", "useradd", "install"}
#: Where a production install puts the lector command (`make install-prod`, deploy/).
PROD_LECTOR = "/opt/lector/bin/lector"
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.mark.parametrize("document", list(DOCUMENTS), ids=lambda path: path.name)
def test_the_generated_tables_are_current(document: Path) -> None:
    text = document.read_text()
    assert render(text, DOCUMENTS[document]) == text, f"{document.name} is out of date: run `make reference`"


def test_the_sync_answer_example_has_every_key_of_the_answer() -> None:
    example = json_block(README, "sync-answer")
    assert isinstance(example, dict)
    assert set(example["data"]) == set(OcrData.__struct_fields__)
    raw = example["data"]["raw_response"]
    assert set(raw) == set(RawResponse.__struct_fields__)
    word = raw["pages"][0]["words"][0]
    assert set(word) == set(Word.__struct_fields__)


def test_the_readme_says_what_a_word_box_is() -> None:
    (box,) = [field for field in msgspec.inspect.type_info(Word).fields if field.name == "box"]  # type: ignore[attr-defined]
    described = box.type.extra_json_schema["description"]
    layout = re.match(r"\[[a-z, ]+\]", described)
    assert layout, described
    assert f"`{layout.group(0)}`" in README.read_text()


def test_the_example_receipt_is_the_fixture_and_its_fields_are_the_generators() -> None:
    # The example sends fixtures/receipt.png: a file of the repository, made by fixtures/generate.py.
    assert (ROOT / "fixtures" / "receipt.png").read_bytes() == receipt()
    shown = json_block(README, "receipt-fields")
    assert isinstance(shown, dict) and shown
    assert shown == {name: RECEIPT_FIELDS[name] for name in shown}
    assert "-F file=@fixtures/receipt.png -F document_type_code=receipt" in README.read_text()


def test_the_readme_is_a_guide_not_a_reference() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 420
    for word in ("horse", "last week", "afternoon", "issue "):
        assert word not in text.lower(), word


def test_every_benchmark_has_its_section_and_a_run_replaces_only_its_own() -> None:
    text = BENCHMARKS_MD.read_text()
    for name in BENCHMARKS:
        assert f"<!-- bench:{name} -->\n" in text and f"<!-- /bench:{name} -->" in text, name
    replaced = replace_section(text, "keys", "new keys table")
    assert "<!-- bench:keys -->\nnew keys table\n<!-- /bench:keys -->" in replaced
    before, after = text.split("<!-- bench:keys -->")[0], text.split("<!-- /bench:keys -->")[1]
    assert replaced.startswith(before) and replaced.endswith(after)
    added = replace_section(text, "new_one", "a table")
    assert added.startswith(text.rstrip("\n")) and added.endswith(
        "<!-- bench:new_one -->\na table\n<!-- /bench:new_one -->\n"
    )


# Commands.


@cache
def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))


@cache
def make_variables() -> set[str]:
    return set(re.findall(r"\$\((\w+)\)", (ROOT / "Makefile").read_text()))


@cache
def lector_help(*command: str) -> str:
    """The help of ``lector COMMAND...``, from the parser itself."""
    from service.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0, f"lector {' '.join(command)} is no command"
    return out.getvalue()


@cache
def routes() -> dict[str, set[str]]:
    """The API's routes, as OpenAPI path templates, with their methods."""
    from service.api.app import create_app

    paths = create_app(Settings(auth=False)).openapi_schema.paths or {}
    return {path: {m.upper() for m in METHODS if getattr(item, m)} for path, item in paths.items()}


def route_exists(method: str, path: str) -> bool:
    """Whether ``method path`` is a route; ``<id>``, ``{id}`` and ``$ID`` are any segment."""
    path = re.sub(r"@@[\w-]+@@|<[\w-]+>|\{[\w-]+\}|\$\w+", "X", path).rstrip("/") or "/"
    for template, methods in routes().items():
        pattern = re.sub(r"\\\{[^/]+\\\}", "[^/]+", re.escape(template.rstrip("/")))
        if re.fullmatch(pattern, path) and method in methods:
            return True
    return False


def check_file(argument: str) -> None:
    """An example file the reader does not bring must exist: the repository's fixtures."""
    if argument.startswith(("fixtures/", "deploy/")):
        assert (ROOT / argument).is_file(), f"{argument} does not exist"
    if argument.startswith("var/"):
        name = argument.removeprefix("var/")
        sources = "".join(path.read_text() for path in (ROOT / "service").rglob("*.py"))
        assert f'"{name}"' in sources, f"nothing writes {argument}"


def check_curl(words: list[str]) -> None:
    urls = [word for word in words if word.startswith(EXAMPLE_URL)]
    assert len(urls) == 1, f"one URL of {EXAMPLE_URL} expected in {words}"
    method = "GET"
    for flag, value in zip(words, [*words[1:], ""], strict=True):
        if flag in ("-X", "--request"):
            method = value
        elif flag in ("-d", "--data", "-F", "--form") and method == "GET":
            method = "POST"
        if flag in ("-F", "--form") and "=@" in value:
            check_file(value.split("=@", 1)[1])
    path = urlsplit(urls[0].replace("$", "%24")).path.replace("%24", "$")
    assert route_exists(method, path), f"no route {method} {path}"


def check_lector(words: list[str]) -> None:
    args = [word for word in words[1:] if not word.startswith("@@")]
    depth = 2 if args[:1] == ["keys"] else 1
    command = tuple(args[:depth])
    help_text = lector_help(*command)
    for word in args[depth:]:
        if word.startswith("--") and word != "--help":
            assert re.search(rf"(?<![\w-]){re.escape(word.split('=')[0])}(?![\w-])", help_text), (
                f"lector {' '.join(command)} has no {word}"
            )
        else:
            check_file(word)


def check_systemctl(words: list[str]) -> None:
    """Every unit named is one deploy/ ships (an instance names its template)."""
    units = [word for word in words[2:] if not word.startswith("-")]
    for unit in units:
        name = re.sub(r"@[^.]+", "@", unit.removesuffix(".service")) + ".service"
        assert (ROOT / "deploy" / name).is_file(), f"deploy/ has no unit {name} for {unit}"


def check_compose(words: list[str]) -> None:
    """The compose file run is deploy/container's (an installed copy keeps its name), and its
    env file is the copy of the example beside it."""
    options = dict(zip(words, [*words[1:], ""], strict=True))
    compose, env_file = Path(options["-f"]), Path(options["--env-file"])
    assert (ROOT / "deploy" / "container" / compose.name).is_file(), f"deploy/container has no {compose.name}"
    assert (ROOT / "deploy" / "container" / f"{env_file.name}.example").is_file(), f"no example of {env_file}"
    assert env_file.parent == compose.parent, f"{env_file} is not beside {compose}"


def check_simple(words: list[str], env: dict[str, str]) -> None:
    program = words[0]
    if program == "make":
        for target in words[1:]:
            assert target in make_targets(), f"no make target {target}"
        settings = {env_name(field.name) for field in fields_of(Settings)}
        for name in env:
            assert name in settings or name in make_variables(), f"{name} is no setting or make variable"
    elif program in (".venv/bin/lector", "lector", PROD_LECTOR):
        check_lector(words)
    elif program == "systemctl":
        check_systemctl(words)
    elif program == "curl":
        check_curl(words)
    elif program == "podman-compose":
        check_compose(words)
    elif program.endswith("/python") and words[1:2] == ["-m"]:
        module = words[2]
        spec = importlib.util.find_spec(module)
        assert spec and spec.origin, f"no module {module}"
        source = Path(spec.origin).read_text()
        for word in words[3:]:
            if word.startswith("--"):
                assert f'"{word}"' in source, f"{module} takes no {word}"
    elif program in HELPERS:
        for word in words[1:]:
            check_file(word)
    else:
        raise AssertionError(f"the docs show a command this test does not know: {program}")


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=str)
def test_every_command_in_the_docs_names_real_targets_flags_routes_and_files(command: Command) -> None:
    for words in simple_commands(command.text):
        env, words = without_env(words)
        if words:
            check_simple(words, env)


def test_every_route_the_docs_name_exists() -> None:
    """`GET /api/...` in the prose and tables names a route (or, under /v1, /convertr and the
    root, the dialect's)."""
    mention = re.compile(r"`((?:GET|POST|PUT|PATCH|DELETE)(?:\|(?:GET|POST|PUT|PATCH|DELETE))*) (/[^`\s?]*)")
    missing = []
    for document in DOC_FILES:
        for methods, path in mention.findall(document.read_text()):
            for method in methods.split("|"):
                if not route_exists(method, path):
                    missing.append(f"{document.name}: {method} {path}")
    assert not missing, missing


def test_the_docs_show_commands() -> None:
    # The parsing above must find the examples, or the tests above would pass on nothing.
    programs = {
        without_env(words)[1][0]
        for command in ALL_COMMANDS
        for words in simple_commands(command.text)
        if without_env(words)[1]
    }
    assert {"make", "curl", ".venv/bin/lector"} <= programs
