"""Image targets: each page resized, brought to an aspect ratio, and encoded.

EXIF orientation is applied when the page is read (``service.pages``); metadata (EXIF, GPS,
XMP, a JPEG's or GIF's comment, text chunks) is left behind unless ``keep_metadata`` is set
(then EXIF alone is kept): a page reaches its writer with nothing in ``info`` but its colour
profile, transparent colour and resolution. ICC colour profiles are kept: they are colour,
not metadata.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import pymupdf
from PIL import Image, TiffImagePlugin

from service.convert.formats import ENCODER_MEGAPIXELS, PIL_WRITERS, WITH_ALPHA, WITH_QUALITY
from service.convert.target import Target
from service.errors import DecompressionBomb, TooLarge
from service.pages import MAX_PAGE_PIXELS

_RESAMPLE = Image.Resampling.LANCZOS

#: What a writer may take from a page's ``info``. The rest is metadata, which several writers
#: copy from ``info`` unasked: Pillow's JPEG and GIF writers the comment, pillow-heif the EXIF
#: and XMP.
_PIXEL_FACTS = frozenset({"icc_profile", "transparency", "dpi"})


def shape(image: Image.Image, target: Target) -> Image.Image:
    """``image`` resized and brought to the target's aspect ratio (padded or cropped).

    With both a width and a height, the ratio is reached first and the size then: a ratio of
    width:height (Convertorio's `custom`) so gives exactly that size, undistorted. Otherwise
    the resize comes first, so a large page is made smaller before it is padded."""
    ratio = _ratio(target)
    both = target.resize_width is not None and target.resize_height is not None
    if ratio is not None and both:
        return _resized(_to_ratio(image, ratio, target), target.resize_width, target.resize_height)
    image = _resized(image, target.resize_width, target.resize_height)
    return image if ratio is None else _to_ratio(image, ratio, target)


def _to_ratio(image: Image.Image, ratio: float, target: Target) -> Image.Image:
    if target.crop_strategy != "fit":
        return _cropped(image, ratio, target.crop_strategy)
    return _padded(image, ratio, transparent=target.target_format in WITH_ALPHA)


def _ratio(target: Target) -> float | None:
    if target.target_format == "ico":
        return 1.0  # an icon is square
    if target.aspect_ratio == "original":
        return None
    width, height = target.aspect_ratio.split(":")
    return int(width) / int(height)


def _resized(image: Image.Image, width: int | None, height: int | None) -> Image.Image:
    """Resized to ``width`` x ``height``; with one of them, the other keeps the aspect."""
    if width is None and height is None:
        return image
    if width is None:
        assert height is not None
        width = max(1, round(image.width * height / image.height))
    elif height is None:
        height = max(1, round(image.height * width / image.width))
    _check_size(width, height)
    return image.resize((width, height), _RESAMPLE)


def _check_size(width: int, height: int) -> None:
    if width * height > MAX_PAGE_PIXELS:
        raise DecompressionBomb(
            f"The output would be {width}x{height} pixels, over the limit of "
            f"{MAX_PAGE_PIXELS // 1_000_000} megapixels per page."
        )


def _padded(image: Image.Image, ratio: float, *, transparent: bool) -> Image.Image:
    """``image`` centred on a canvas of aspect ``ratio``: transparent where the target keeps
    alpha, white otherwise."""
    width, height = image.size
    if width / height < ratio:
        width = round(height * ratio)
    else:
        height = round(width / ratio)
    _check_size(width, height)
    if transparent:
        canvas = Image.new("RGBA", (width, height), (255, 255, 255, 0))
        source = image.convert("RGBA")
    else:
        canvas = Image.new("RGB" if image.mode != "L" else "L", (width, height), "white")
        source = image
    offset = ((width - image.width) // 2, (height - image.height) // 2)
    canvas.paste(source, offset, source if source.mode == "RGBA" else None)
    canvas.info = dict(image.info)
    return canvas


def _cropped(image: Image.Image, ratio: float, strategy: str) -> Image.Image:
    """The largest box of aspect ``ratio`` in ``image``, placed as ``strategy`` says."""
    width, height = image.size
    box_width, box_height = (
        (width, round(width / ratio))
        if width / height < ratio
        else (
            round(height * ratio),
            height,
        )
    )
    box_width, box_height = max(1, min(box_width, width)), max(1, min(box_height, height))
    spare_x, spare_y = width - box_width, height - box_height
    left = {"crop-left": 0, "crop-right": spare_x}.get(strategy, spare_x // 2)
    top = {"crop-top": 0, "crop-bottom": spare_y}.get(strategy, spare_y // 2)
    cropped = image.crop((left, top, left + box_width, top + box_height))
    cropped.info = dict(image.info)
    return cropped


def encode_pages(pages: Iterable[Image.Image], target: Target) -> bytes:
    """Every page in one multi-page file (tiff or pdf), written as the pages come, so only
    one page's pixels are held at a time."""
    out = io.BytesIO()
    if target.target_format == "pdf":
        with pymupdf.open() as pdf:
            for page in pages:
                image_page(pdf, _for_target(page, "pdf"), quality=target.quality)
            return bytes(pdf.tobytes(garbage=3, deflate=True))
    with TiffImagePlugin.AppendingTiffWriter(out, new=True) as tiff:
        for page in pages:
            _for_target(page, "tiff").save(tiff, format="TIFF", compression="tiff_adobe_deflate")
            tiff.newFrame()
    return out.getvalue()


def encode(page: Image.Image, target: Target) -> bytes:
    """One page in the target format; TooLarge for a page over the format's encoder cap."""
    fmt = target.target_format
    _check_encoder(page, fmt)
    exif = page.getexif().tobytes() if target.keep_metadata and page.info.get("exif") else None
    first = _for_target(page, fmt)
    options: dict[str, object] = {}
    if fmt in WITH_QUALITY:
        options["quality"] = target.quality
    if fmt == "ico":  # shape() made it square; Pillow writes no size larger than the image
        sides = sorted(set(target.icon_sizes or [target.icon_size]))
        first = first.resize((sides[-1], sides[-1]), _RESAMPLE)
        options["sizes"] = [(side, side) for side in sides]
    if fmt == "tiff":
        options["compression"] = "tiff_adobe_deflate"
    if fmt == "pdf":
        return encode_pages([page], target)
    if exif is not None:
        options["exif"] = exif
    if page.info.get("icc_profile") and fmt not in ("gif", "bmp", "ico"):
        options["icc_profile"] = page.info["icc_profile"]
    if fmt == "heic":
        from pillow_heif import register_heif_opener  # the HEIF writer comes with the opener

        register_heif_opener()
    out = io.BytesIO()
    first.save(out, format=PIL_WRITERS[fmt], **options)
    return out.getvalue()


def _check_encoder(page: Image.Image, fmt: str) -> None:
    """Refuse, before its encoder allocates anything, a page too large for ``fmt``."""
    cap = ENCODER_MEGAPIXELS.get(fmt)
    if cap is not None and page.width * page.height > cap * 1_000_000:
        raise TooLarge(
            f"A {fmt.upper()} page may have at most {cap} megapixels and this one would have "
            f"{page.width * page.height / 1_000_000:.0f} ({page.width}x{page.height}): set resize_width "
            "or resize_height, or choose another format."
        )


def _for_target(image: Image.Image, fmt: str) -> Image.Image:
    """The modes each writer takes: alpha kept where the format has it, else on white; and no
    metadata."""
    if image.mode == "RGBA" and fmt not in WITH_ALPHA:
        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        background.info = dict(image.info)
        image = background
    elif fmt in ("jpg", "pdf", "bmp") and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    return _bare(image)


def _bare(image: Image.Image) -> Image.Image:
    """``image`` with its metadata dropped, in place: a page is shaped for one encode, and
    copying it would copy its pixels."""
    image.info = {key: value for key, value in image.info.items() if key in _PIXEL_FACTS}
    image.getexif().clear()  # the EXIF Pillow parsed already, which pillow-heif would take
    return image


def image_page(pdf: pymupdf.Document, image: Image.Image, *, quality: int, dpi: int = 300) -> pymupdf.Page:
    """A new page of ``pdf`` showing ``image`` at its resolution (``dpi`` when it records none)."""
    recorded = image.info.get("dpi")
    resolution = float(recorded[0]) if recorded and recorded[0] else float(dpi)
    width, height = image.width * 72 / resolution, image.height * 72 / resolution
    image = _bare(image)
    out = io.BytesIO()
    if image.mode == "RGBA":
        image.save(out, format="PNG")
    else:
        image.save(out, format="JPEG", quality=quality)
    page = pdf.new_page(width=width, height=height)
    page.insert_image(page.rect, stream=out.getvalue())
    return page
