"""Office documents (DOCX, DOC, ODT, RTF, XLSX, ODS, PPTX, ODP) read through the PDF that a
warm LibreOffice makes of them (``service.office.convert``)."""

from service.office.convert import SNIFFED, available, shutdown, to_pdf

__all__ = ["SNIFFED", "available", "shutdown", "to_pdf"]
