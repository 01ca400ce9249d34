"""File conversion: a document in, files in another format out (no web framework, no Redis).

::

    formats.py   the input formats, the targets and their media types: the catalogue of pairs
    target.py    the conversion options (``Target``): target format, aspect ratio, crop, quality...
    images.py    pages as colour images, transformed and encoded to an image target
    text.py      OCR targets: txt, json, Markdown, hOCR, and the searchable PDF
    run.py       ``convert(data, options, target, engines)``: the one entry point
"""
