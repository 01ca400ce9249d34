"""The document of a Textract request: ``Document.Bytes``, or an ``S3Object`` in Lector's store.

Lector is no S3 client of someone else's bucket: an S3Object names an object of Lector's own
store, which must then be S3 (``LECTOR_STORAGE_URL=s3://bucket/prefix``). The client puts
its document there with its own S3 client, and names it as Textract would:

- ``Bucket`` is the store's bucket, and ``Name`` the object's whole key in it, under the
  store's prefix when it has one, then under ``textract/<key id>/``, the signing key's own
  place (``prefix/textract/k7Qx2mP9aB3d/invoices/march.pdf``): a key reads only what was put
  in its own place, never another tenant's documents nor Lector's own objects (other jobs'
  documents and results), however it names them;
- ``Version`` is refused: Lector reads the object as it is now;
- the object is read up to LECTOR_MAX_UPLOAD_MB, and never deleted: it is the client's.
  A queued job works on its own copy.

The operator gives each client an S3 identity that may write its own place only (SeaweedFS's
and every S3 server's policies allow a prefix); Lector's own credentials never leave it.
"""

from __future__ import annotations

import io
from typing import IO

from service.api.dialects.textract.errors import InvalidParameter, InvalidS3Object
from service.api.dialects.textract.wire import Document, S3Object
from service.api.payloads import check_size
from service.errors import DocumentTooLarge
from service.storage import Storage

#: Where, under the store's prefix, the clients' objects are: each key's under its own id.
CLIENT_SPACE = "textract"


def document_bytes(document: Document, storage: Storage, owner: str, max_bytes: int) -> bytes:
    """The bytes of a synchronous operation's document (base64-decoded by msgspec, or read
    from ``owner``'s place in the store); InvalidParameter, InvalidS3Object or DocumentTooLarge."""
    if (document.content is None) == (document.s3_object is None):
        raise InvalidParameter("Document needs exactly one of Bytes and S3Object.")
    if document.content is not None:
        if not document.content:
            raise InvalidParameter("Document.Bytes is empty.")
        check_size(len(document.content), max_bytes)
        return document.content
    assert document.s3_object is not None
    copy = io.BytesIO()
    copy_object(document.s3_object, storage, owner, max_bytes, copy)
    return copy.getvalue()


def copy_object(where: S3Object, storage: Storage, owner: str, max_bytes: int, target: IO[bytes]) -> str:
    """Write the object ``where`` names into ``target``, at most ``max_bytes``; its file name.
    InvalidS3Object when it names no object ``owner`` may read, DocumentTooLarge when it is
    over the limit."""
    key = stored_key(where, storage, owner)
    size = storage.size(key)
    pieces = storage.chunks(key) if size is not None else None
    if size is None or pieces is None:
        raise InvalidS3Object(f"There is no object {_shown(where)} in the store.")
    check_size(size, max_bytes)
    written = 0
    for piece in pieces:
        written += len(piece)
        if written > max_bytes:  # it grew since its size was read
            raise DocumentTooLarge(f"The object is larger than the limit of {max_bytes // 1_048_576} MB.")
        target.write(piece)
    target.flush()
    return key.rsplit("/", 1)[-1]


def stored_key(where: S3Object, storage: Storage, owner: str) -> str:
    """The store's key of the object ``where`` names, in ``owner``'s place (see the module);
    InvalidParameter or InvalidS3Object with the reason."""
    if not where.bucket or not where.name:
        raise InvalidParameter("S3Object needs its Bucket and its Name.")
    if where.version is not None:
        raise InvalidParameter("S3Object.Version is not supported: Lector reads the object as it is now.")
    if storage.bucket is None:
        raise InvalidS3Object(
            "S3Object needs an S3 store (LECTOR_STORAGE_URL=s3://...), and this server keeps its "
            "documents in a directory: send the document in Document.Bytes."
        )
    if where.bucket != storage.bucket:
        raise InvalidS3Object(f"Lector reads documents from its own bucket only: {storage.bucket}.")
    if not where.name.startswith(storage.prefix):
        raise InvalidS3Object(f"Lector reads objects under {storage.prefix!r} of its bucket only.")
    key = where.name[len(storage.prefix) :]
    place = f"{CLIENT_SPACE}/{owner}/"
    parts = key.split("/")
    if not key.startswith(place) or "" in parts or "." in parts or ".." in parts:
        raise InvalidS3Object(
            f"The object {_shown(where)} is not in this key's place: put it under "
            f"{storage.prefix + place!r} of the bucket."
        )
    return key


def _shown(where: S3Object) -> str:
    """The object as a message may name it (cut short)."""
    return repr(f"{where.bucket}/{where.name}"[:200])
