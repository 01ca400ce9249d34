"""An office document made a PDF by LibreOffice (``service.office``), which Lector then reads
or converts as it does any PDF: its text comes from the PDF's text layer."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from service.convert.formats import input_name
from service.office import to_pdf
from service.pages import Source, as_file
from service.settings import Settings


def office_pdf(document: Source, sniffed: str, settings: Settings) -> Path:
    """The PDF of the office ``document`` (recognised as ``sniffed``), in a private directory
    of its own that the caller removes (with the PDF) when done."""
    work = Path(tempfile.mkdtemp(prefix="office-"))
    try:
        source = as_file(document, work)
        pdf = to_pdf(source, work, format=input_name(sniffed), timeout_s=settings.office_timeout_s)
        if source.parent == work:
            source.unlink()
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return pdf
