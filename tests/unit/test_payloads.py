import base64
import json
import os

import pytest

from service.api.payloads import decode_base64_document, decode_json_body
from service.errors import DocumentTooLarge, InvalidBase64, MalformedBody

DATA = bytes(range(256)) * 4
ENCODED = base64.b64encode(DATA).decode()
LIMIT = 1024 * 1024


@pytest.mark.parametrize(
    "value",
    [
        ENCODED,
        f"data:image/png;base64,{ENCODED}",
        "\n".join(ENCODED[i : i + 76] for i in range(0, len(ENCODED), 76)),  # MIME line breaks
        base64.urlsafe_b64encode(DATA).decode().rstrip("="),  # URL-safe, unpadded
    ],
)
def test_common_base64_forms_decode(value):
    assert decode_base64_document(value, field="image", max_bytes=LIMIT) == DATA
    # The same, left as its JSON token by decode_json_body, as a JSON submission's is.
    token = decode_json_body(json.dumps({"image": value}).encode(), verbatim=("image",))["image"]
    assert isinstance(token, memoryview)
    assert decode_base64_document(token, field="image", max_bytes=LIMIT) == DATA


def test_a_json_token_with_escapes_or_over_many_steps_decodes():
    large = os.urandom(3 * 1024 * 1024)  # the token is decoded 512 KiB at a time
    encoded = base64.b64encode(large).decode()
    escaped = json.dumps({"image": encoded}).replace("/", "\\/")  # JSON allows an escaped solidus
    for body, expected in ((json.dumps({"image": encoded}), large), (escaped, large)):
        token = decode_json_body(body.encode(), verbatim=("image",))["image"]
        assert decode_base64_document(token, field="image", max_bytes=8 * LIMIT) == expected


def test_a_verbatim_field_that_is_not_a_string_is_decoded_as_usual():
    fields = decode_json_body(b'{"image": 12, "other": "x"}', verbatim=("image",))
    assert fields == {"image": 12, "other": "x"}


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"[1, 2]", "must be a JSON object"), (b'{"image": "abc', "not valid JSON"), (b"  ", "is empty")],
)
def test_a_body_that_is_not_a_json_object_is_refused(body, message):
    with pytest.raises(MalformedBody) as caught:
        decode_json_body(body, verbatim=("image",))
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "The `image` field is empty."),
        ("data:image/png,raw-not-base64", "must be base64-encoded"),
        ("not base64 at all!!", "The `image` field is not valid base64."),
    ],
)
def test_bad_base64_is_a_clear_error(value, message):
    with pytest.raises(InvalidBase64) as caught:
        decode_base64_document(value, field="image", max_bytes=LIMIT)
    assert message in caught.value.message


def test_an_oversized_payload_is_refused_before_decoding():
    huge = "A" * (4 * 1024 * 1024)
    with pytest.raises(DocumentTooLarge) as caught:
        decode_base64_document(huge, field="image", max_bytes=LIMIT)
    assert "the limit is 1 MB" in caught.value.message
