"""The request every route receives: Litestar's, with body decoding that treats bytes a client
got wrong as the client's mistake (a 400), never as a server error.

Litestar decodes a JSON body with msgspec, which raises ``UnicodeDecodeError`` (not a decode
error) for invalid UTF-8 inside a string, which would otherwise answer as an internal error; and
it reads a multipart part without a filename as a text field, decoding a file's bytes as UTF-8.

A multipart part is a file here when its Content-Disposition has a filename parameter in either
form (``filename``, even empty, or ``filename*``), or when it declares a Content-Type that is
not text (``text/*`` and ``application/json`` are text), or when its bytes are not text in its
charset. Only what is left is a text field: a file stays a file whatever its filename says.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import AsyncGenerator
from typing import Any, cast
from urllib.parse import unquote

from litestar import Request
from litestar.datastructures import FormMultiDict, UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, ValidationException
from litestar.types import Empty
from litestar.utils.compat import async_next
from multipart import (  # type: ignore[import-untyped]
    MultipartSegment,
    ParserError,
    ParserLimitReached,
    PushMultipartParser,
)

from service.api.payloads import NOT_UTF8
from service.errors import MalformedBody, TooLarge

#: The extended file name parameter, which the multipart parser does not read.
_FILENAME_STAR = re.compile(r";\s*filename\*\s*=\s*([^;\s]*)", re.IGNORECASE)
#: What a multipart body may hold beyond its file: boundaries, part headers, text fields.
FORM_ALLOWANCE = 1024 * 1024


class LectorRequest(Request[Any, Any, Any]):
    """Litestar's request, whose ``json()`` and ``form()`` refuse undecodable bytes with a 400
    and whose ``form()`` keeps every file part a file (see the module's docstring)."""

    async def json(self) -> Any:
        """The JSON body; MalformedBody (400) when a string in it is not UTF-8."""
        try:
            return await super().json()
        except UnicodeDecodeError:
            raise MalformedBody(NOT_UTF8) from None

    async def form(self, max_file_bytes: int | None = None) -> FormMultiDict:
        """The form: multipart parsed by ``parse_multipart_form``, anything else as Litestar does.

        ``max_file_bytes``: for a route whose body limit depends on its caller (its own
        ``request_max_body_size`` is None), the multipart body may be at most this plus
        FORM_ALLOWANCE; beyond, TooLarge (413), at once when its Content-Length says so, else
        as soon as the bytes pass it. The file's own size is then checked exactly.
        """
        content_type, options = self.content_type
        if content_type != RequestEncodingType.MULTI_PART:
            return await super().form()
        if self._form is Empty:
            if (parsed := self._connection_state.form) is Empty:
                boundary = options.get("boundary")
                if boundary is None:
                    raise ValidationException("multipart boundary missing in Content-Type")
                stream = self.stream()
                if max_file_bytes is not None:
                    stream = _bounded(stream, self.content_length, max_file_bytes + FORM_ALLOWANCE)
                parsed = await parse_multipart_form(
                    stream, boundary.encode(), self.app.multipart_form_part_limit
                )
                self._connection_state.form = parsed
            self._form = FormMultiDict.from_form_data(cast("dict[str, Any]", parsed))
        return self._form


async def _bounded(
    stream: AsyncGenerator[bytes, None], announced: int | None, max_bytes: int
) -> AsyncGenerator[bytes, None]:
    """``stream``, refused with TooLarge once it passes ``max_bytes`` (or announces more)."""
    if announced is not None and announced > max_bytes:
        raise TooLarge(_too_large(max_bytes))
    received = 0
    async for chunk in stream:
        received += len(chunk)
        if received > max_bytes:
            raise TooLarge(_too_large(max_bytes))
        yield chunk


def _too_large(max_bytes: int) -> str:
    limit_mb = (max_bytes - FORM_ALLOWANCE) // 1_048_576
    return f"The request body is too large; documents may be at most {limit_mb} MB here."


def is_file(segment: MultipartSegment) -> bool:
    """Whether a part is a file by its headers alone (a filename parameter, or a Content-Type
    that is not text)."""
    if segment.filename is not None or filename_star(segment) is not None:
        return True
    media = (segment.content_type or "").lower()
    return bool(media) and not media.startswith("text/") and media != "application/json"


def filename_star(segment: MultipartSegment) -> str | None:
    """The RFC 5987 ``filename*`` parameter decoded (``UTF-8''page.png``), or None."""
    found = _FILENAME_STAR.search(segment.header("Content-Disposition", ""))
    if found is None:
        return None
    charset, _, rest = found.group(1).partition("'")
    _language, quote, encoded = rest.partition("'")
    if not quote:
        return ""
    try:
        return unquote(encoded, encoding=charset or "utf-8", errors="replace")
    except LookupError:  # an unknown charset: the name is not needed to read the file
        return ""


def _upload(segment: MultipartSegment) -> UploadFile:
    return UploadFile(
        content_type=segment.content_type or "application/octet-stream",
        filename=segment.filename or filename_star(segment) or "",
        headers=dict(segment.headerlist),
    )


def _text(segment: MultipartSegment, data: bytearray) -> str | None:
    """A text field's value, or None when its bytes are not text in its charset."""
    try:
        # bytes.decode refuses a codec that is no text encoding (rot13) with a LookupError too.
        return data.decode(segment.charset or "utf-8")
    except (UnicodeDecodeError, LookupError):
        return None


async def parse_multipart_form(
    stream: AsyncGenerator[bytes, None], boundary: bytes, part_limit: int
) -> dict[str, Any]:
    """The parts of a multipart body by name: files as UploadFile (spooled to disk when large),
    text fields as str. Raises ClientException (400) for a malformed body or too many parts,
    closing every file opened so far."""
    fields: defaultdict[str, list[Any]] = defaultdict(list)
    data: UploadFile | bytearray = bytearray()
    chunk = await async_next(stream, b"")
    if not chunk:
        return {}
    try:
        with PushMultipartParser(boundary, max_segment_count=part_limit) as parser:
            segment: MultipartSegment | None = None
            # An empty chunk (the stream's end) tells the parser to finish or raise ParserError.
            while not parser.closed:
                for event in parser.parse(chunk):
                    if isinstance(event, MultipartSegment):
                        segment = event
                        data = _upload(segment) if is_file(segment) else bytearray()
                    elif event:
                        if isinstance(data, UploadFile):
                            await data.write(event)
                        else:
                            data.extend(event)
                    else:
                        if segment is None:
                            raise ClientException("Unexpected eof in multipart/form-data")
                        fields[segment.name].append(await _value(segment, data))
                        data, segment = bytearray(), None
                chunk = await async_next(stream, b"")
    except ParserError as exc:
        await _close(data, fields)
        raise ClientException("Invalid multipart/form-data") from exc
    except ParserLimitReached:
        await _close(data, fields)
        # Litestar's own wording, which service.api.responses rewrites into a sentence.
        raise ClientException("Request Entity Too Large") from None
    except BaseException:
        await _close(data, fields)
        raise
    return {name: values if len(values) > 1 else values[0] for name, values in fields.items()}


async def _value(segment: MultipartSegment, data: UploadFile | bytearray) -> str | UploadFile:
    """A finished part's value: its text, or its file rewound (bytes that are no text make a
    file without a filename)."""
    if isinstance(data, bytearray):
        text = _text(segment, data)
        if text is not None:
            return text
        upload = _upload(segment)
        await upload.write(bytes(data))
        data = upload
    await data.seek(0)
    return data


async def _close(data: UploadFile | bytearray, fields: dict[str, list[Any]]) -> None:
    if isinstance(data, UploadFile):
        await data.close()
    for values in fields.values():
        for value in values:
            if isinstance(value, UploadFile):
                await value.close()
