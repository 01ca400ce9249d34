"""The options are defined once: every body that takes them shows exactly the Options fields."""

import msgspec

from service.api.app import create_app
from service.options import OPTION_NAMES, PSM_CHOICES, Options
from service.settings import Settings

BODY_EXTRAS = {
    ("/api/ocr/extract-text", "application/json"): {"image", "image_base64"},
    ("/api/ocr/extract-text-from-file", "multipart/form-data"): {"file"},
    ("/api/convert-async", "application/json"): {"image", "image_base64", "image_url", "callback_url"},
    ("/api/convert-async", "multipart/form-data"): {"image", "callback_url"},
    ("/api/batches", "application/json"): {"items", "callback_url"},
    ("/api/batches", "multipart/form-data"): {"files", "callback_url"},
}


def spec() -> dict:
    app = create_app(Settings(auth=False))
    return msgspec.json.decode(msgspec.json.encode(app.openapi_schema.to_schema()))


def properties(document: dict, path: str, media_type: str) -> dict:
    schema = document["paths"][path]["post"]["requestBody"]["content"][media_type]["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema["properties"]


def test_every_body_takes_exactly_the_options_plus_its_document():
    document = spec()
    for (path, media_type), extras in BODY_EXTRAS.items():
        names = set(properties(document, path, media_type))
        assert names == set(OPTION_NAMES) | extras, (path, media_type)


def test_option_constraints_come_from_the_type():
    document = spec()
    expected = msgspec.json.schema(Options)["$defs"]["Options"]["properties"]
    for path, media_type in (
        ("/api/convert-async", "application/json"),
        ("/api/batches", "multipart/form-data"),
    ):
        shown = properties(document, path, media_type)
        assert shown["lang"]["maxLength"] == expected["lang"]["maxLength"] == 100
        assert shown["lang"]["pattern"] == expected["lang"]["pattern"]
        assert next(member.get("enum") for member in shown["psm"]["anyOf"]) == list(PSM_CHOICES)
        assert shown["pages"]["anyOf"][0]["maxLength"] == 1000
