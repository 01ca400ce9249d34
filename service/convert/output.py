"""One converted file: its bytes, or (for audio, video and office conversions, which may be
large) a file in a private directory of its own, which ``discard`` removes once it is sent or
stored."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import msgspec

from service.convert.formats import MEDIA_TYPES


class OutputFile(msgspec.Struct):
    """One converted file."""

    name: str
    media_type: str
    content: bytes | Path

    @property
    def size(self) -> int:
        """Its size in bytes."""
        return self.content.stat().st_size if isinstance(self.content, Path) else len(self.content)

    def read(self) -> bytes:
        """Its bytes (for a file small enough to hold, such as a member of a zip)."""
        return self.content.read_bytes() if isinstance(self.content, Path) else self.content

    def discard(self) -> None:
        """Remove its file and the private directory it was made in (no-op for bytes)."""
        if isinstance(self.content, Path):
            shutil.rmtree(self.content.parent, ignore_errors=True)


def zipped(stem: str, members: list[tuple[str, bytes]]) -> OutputFile:
    """Several files as one zip (stored, not compressed: images and PDFs are compressed already)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return OutputFile(name=f"{stem}.zip", media_type=MEDIA_TYPES["zip"], content=out.getvalue())
