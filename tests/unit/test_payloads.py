import base64

import pytest

from service.api.payloads import decode_base64_document
from service.errors import DocumentTooLarge, InvalidBase64

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
