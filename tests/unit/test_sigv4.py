"""SigV4 verification against requests signed by botocore's own signer, as boto3 sends them."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from service.api.dialects.textract.signing import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    SignatureRefused,
    SignedRequest,
    UnrecognizedClientException,
    check_signature,
    read_signature,
)
from service.errors import Unauthorized

STAMP = "%Y%m%dT%H%M%SZ"
ACCESS_KEY_ID = "LKIAABCDEFGHIJ234567"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
URL = "http://127.0.0.1:8000/textract"
#: What boto3 sends for DetectDocumentText with Document.Bytes.
BODY = json.dumps({"Document": {"Bytes": base64.b64encode(b"\x89PNG fake page").decode()}}).encode()
TEXTRACT_HEADERS = {
    "X-Amz-Target": "Textract.DetectDocumentText",
    "Content-Type": "application/x-amz-json-1.1",
}


def sign(
    *,
    url: str = URL,
    body: bytes = BODY,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    region: str = "us-east-1",
    service: str = "textract",
    secret: str = SECRET,
    token: str | None = None,
) -> SignedRequest:
    """A request signed by botocore's SigV4Auth, as it arrives: with the Host header and the
    fields the HTTP client adds unsigned, path and query as on the wire."""
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        params=params or {},
        headers={**TEXTRACT_HEADERS, **(headers or {})},
    )
    SigV4Auth(Credentials(ACCESS_KEY_ID, secret, token), service, region).add_auth(request)
    prepared = request.prepare()
    scheme_host, _, rest = prepared.url.partition("://")[2].partition("/")
    path, _, query = ("/" + rest).partition("?")
    sent = [
        (name, value.decode() if isinstance(value, bytes) else value)
        for name, value in prepared.headers.items()
    ]
    extra = [
        ("user-agent", "Boto3/1.35"),
        ("accept-encoding", "identity"),
        ("content-length", str(len(body))),
    ]
    return SignedRequest(
        method=prepared.method,
        path=path,
        query=query,
        headers=[("host", scheme_host), *sent, *extra],
        body=body,
    )


def signed_at(request: SignedRequest) -> datetime:
    """The moment botocore signed ``request`` at (its X-Amz-Date, else its Date), in UTC."""
    names = {name.lower(): value for name, value in request.headers}
    if "x-amz-date" in names:
        return datetime.strptime(names["x-amz-date"], STAMP).replace(tzinfo=UTC)
    return parsedate_to_datetime(names["date"]).replace(tzinfo=UTC)


def verify(request: SignedRequest, secret: str = SECRET, now: datetime | None = None) -> str:
    """Both steps, as the route does them; the access key id that signed."""
    signature = read_signature(request, now or signed_at(request))
    check_signature(signature, request, secret)
    return signature.access_key_id


def with_header(request: SignedRequest, name: str, value: str | None) -> SignedRequest:
    """``request`` with header ``name`` set to ``value`` (None: removed), its signature kept."""
    kept = [(key, old) for key, old in request.headers if key.lower() != name.lower()]
    return replace(request, headers=kept + ([(name, value)] if value is not None else []))


def header(request: SignedRequest, name: str) -> str:
    return next(value for key, value in request.headers if key.lower() == name.lower())


def another_second(request: SignedRequest) -> str:
    """Another X-Amz-Date of the same minute: the seconds' last digit changed."""
    stamp = header(request, "X-Amz-Date")
    return stamp[:-2] + str((int(stamp[-2]) + 1) % 10) + "Z"


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param({}, id="detect-document-text"),
        pytest.param({"url": URL + "/"}, id="trailing-slash"),
        pytest.param({"region": "eu-west-3"}, id="any-region"),
        pytest.param({"body": b""}, id="empty-body"),
        pytest.param({"url": "http://localhost/textract/a%20b/./c/../d"}, id="path-encoded-and-dotted"),
        pytest.param({"params": {"b": "x y", "a": "1/2~", "c": ""}}, id="query-parameters"),
        pytest.param({"headers": {"X-Custom": "  two   spaces\tand tab  "}}, id="header-whitespace"),
        pytest.param({"headers": {"Date": "Thu, 01 Jan 2026 00:00:00 GMT"}}, id="date-header-not-x-amz-date"),
    ],
)
def test_a_request_botocore_signs_is_verified(request_):
    request = sign(**request_)
    if "Date" in request_.get("headers", {}):  # botocore then signs its time there, not in X-Amz-Date
        assert not any(name.lower() == "x-amz-date" for name, _ in request.headers)
    assert verify(request) == ACCESS_KEY_ID


def test_a_header_sent_twice_is_signed_as_its_values_joined():
    request = sign(headers={"X-Custom": "one,two"})
    # A field sent twice is signed as its values joined by commas: as if sent once, so.
    twice = with_header(request, "x-custom", None)
    twice = replace(twice, headers=[*twice.headers, ("x-custom", "one"), ("X-Custom", "two")])
    assert verify(twice) == ACCESS_KEY_ID
    swapped = replace(twice, headers=[*twice.headers[:-2], ("x-custom", "two"), ("X-Custom", "one")])
    with pytest.raises(InvalidSignatureException):
        verify(swapped)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda r: replace(r, body=r.body.replace(b"Bytes", b"bytes")), id="body"),
        pytest.param(
            lambda r: with_header(r, "X-Amz-Target", "Textract.AnalyzeDocument"), id="signed-header"
        ),
        pytest.param(lambda r: with_header(r, "host", "127.0.0.1:8001"), id="host"),
        pytest.param(lambda r: replace(r, path="/textract2"), id="path"),
        pytest.param(lambda r: replace(r, query="a=1"), id="query"),
        pytest.param(lambda r: replace(r, method="PUT"), id="method"),
        pytest.param(lambda r: with_header(r, "X-Amz-Date", another_second(r)), id="time-same-day"),
        pytest.param(
            lambda r: with_header(r, "authorization", header(r, "authorization")[:-1] + "ö"),
            id="non-ascii-signature",
        ),
    ],
)
def test_a_tampered_request_is_refused(tamper):
    request = tamper(sign())
    with pytest.raises(InvalidSignatureException) as refused:
        verify(request, now=signed_at(sign()))
    assert refused.value.aws_type == "InvalidSignatureException"
    assert refused.value.message.startswith("The request signature we calculated does not match")


def test_another_secret_is_refused_and_unsigned_headers_may_change():
    request = sign()
    with pytest.raises(InvalidSignatureException):
        verify(request, secret=SECRET[:-1] + "X")
    # User-Agent is never signed (botocore leaves it out), so a proxy may rewrite it.
    assert verify(with_header(request, "user-agent", "something else")) == ACCESS_KEY_ID


def test_a_body_hash_header_must_be_the_body_s():
    request = sign()
    digest = hashlib.sha256(request.body).hexdigest()
    assert verify(with_header(request, "X-Amz-Content-SHA256", digest)) == ACCESS_KEY_ID
    for declared in ("UNSIGNED-PAYLOAD", "0" * 64):
        with pytest.raises(InvalidSignatureException, match="x-amz-content-sha256"):
            verify(with_header(request, "X-Amz-Content-SHA256", declared))


@pytest.mark.parametrize("minutes", [-4, 4, -5, 5])
def test_a_clock_up_to_five_minutes_off_is_accepted(minutes):
    request = sign()
    assert verify(request, now=signed_at(request) + timedelta(minutes=minutes)) == ACCESS_KEY_ID


def test_a_clock_more_than_five_minutes_off_is_refused_in_aws_words():
    request = sign()
    signed = signed_at(request)
    stamp = header(request, "X-Amz-Date")
    late = signed + timedelta(minutes=6)
    with pytest.raises(InvalidSignatureException) as refused:
        verify(request, now=late)
    f = STAMP
    assert refused.value.message == (
        f"Signature expired: {stamp} is now earlier than {(late - timedelta(minutes=5)).strftime(f)} "
        f"({late.strftime(f)} - 5 min.)"
    )
    early = signed - timedelta(minutes=6)
    with pytest.raises(InvalidSignatureException) as refused:
        verify(request, now=early)
    assert refused.value.message == (
        f"Signature not yet current: {stamp} is still later than "
        f"{(early + timedelta(minutes=5)).strftime(f)} ({early.strftime(f)} + 5 min.)"
    )


def test_the_scope_must_be_textract_on_the_request_s_day():
    with pytest.raises(InvalidSignatureException, match="correct service: 'textract'"):
        verify(sign(service="s3"))
    request = sign()
    next_day = (signed_at(request) + timedelta(days=1)).strftime(STAMP)
    moved = with_header(request, "X-Amz-Date", next_day)
    with pytest.raises(InvalidSignatureException, match="Date in Credential scope does not match"):
        verify(moved, now=signed_at(request) + timedelta(days=1))


def test_a_session_token_is_refused_as_aws_refuses_a_bad_one():
    with pytest.raises(UnrecognizedClientException) as refused:
        verify(sign(token="FwoGZXIvYXdzE..."))
    assert refused.value.message == "The security token included in the request is invalid."


def _authorization(value: str) -> SignedRequest:
    return with_header(sign(), "authorization", value)


@pytest.mark.parametrize(
    ("request_", "refusal", "words"),
    [
        (lambda: with_header(sign(), "authorization", None), MissingAuthenticationTokenException, "missing"),
        (lambda: _authorization("Bearer lec_abc"), IncompleteSignatureException, "AWS4-HMAC-SHA256"),
        (lambda: _authorization("AWS4-HMAC-SHA256"), IncompleteSignatureException, "requires"),
        (
            lambda: _authorization(header(sign(), "authorization").split(", Signature")[0]),
            IncompleteSignatureException,
            "'Signature'",
        ),
        (
            lambda: _authorization(header(sign(), "authorization") + ", Extra=1"),
            IncompleteSignatureException,
            "only",
        ),
        (
            lambda: _authorization(header(sign(), "authorization").replace("/us-east-1", "")),
            IncompleteSignatureException,
            "5 slash-delimited",
        ),
        (
            lambda: _authorization(header(sign(), "authorization").replace("aws4_request", "aws5_request")),
            InvalidSignatureException,
            "terminator",
        ),
        (
            lambda: _authorization(header(sign(), "authorization").replace("us-east-1", "us east")),
            InvalidSignatureException,
            "region",
        ),
        (
            lambda: _authorization(header(sign(), "authorization").replace("host;", "")),
            IncompleteSignatureException,
            "'Host'",
        ),
        (
            lambda: _authorization(header(sign(), "authorization").replace("host;", "Host;")),
            IncompleteSignatureException,
            "lower case",
        ),
        (
            lambda: _authorization(header(sign(), "authorization").replace("host;", "host;host;")),
            IncompleteSignatureException,
            "once",
        ),
        (
            lambda: _authorization(
                header(sign(), "authorization").replace(
                    "host;", "".join(f"x-{n};" for n in range(40)) + "host;"
                )
            ),
            IncompleteSignatureException,
            "at most 32",
        ),
        (lambda: _authorization("AWS4-HMAC-SHA256 " + "x" * 5000), IncompleteSignatureException, "longer"),
        (
            lambda: with_header(sign(), "x-amz-date", None),
            IncompleteSignatureException,
            "'X-Amz-Date' or a 'Date'",
        ),
        (
            lambda: with_header(sign(), "x-amz-date", "2026-12-05T10:30:10Z"),
            IncompleteSignatureException,
            "X-Amz-Date",
        ),
        (
            lambda: with_header(sign(), "x-amz-date", "20261341T103010Z"),
            IncompleteSignatureException,
            "not a date",
        ),
        (
            lambda: replace(sign(), headers=[*sign().headers, ("x-amz-date", "20261205T103010Z")]),
            IncompleteSignatureException,
            "once",
        ),
        (lambda: replace(sign(), query="a=" + "b" * 9000), IncompleteSignatureException, "query"),
        (lambda: replace(sign(), path="/" + "p" * 5000), IncompleteSignatureException, "path"),
    ],
)
def test_a_malformed_signature_is_refused_with_one_sentence(request_, refusal, words):
    request = request_()
    with pytest.raises(refusal) as refused:
        verify(request, now=signed_at(sign()))
    assert words in refused.value.message
    assert refused.value.aws_type == refusal.__name__


def test_every_refusal_is_lector_s_unauthorized_named_for_aws():
    names = {kind.aws_type for kind in SignatureRefused.__subclasses__()}
    assert names == {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "MissingAuthenticationTokenException",
        "IncompleteSignatureException",
    }
    assert all(issubclass(kind, Unauthorized) for kind in SignatureRefused.__subclasses__())
    assert UnrecognizedClientException().status_code == 401
