"""What a conversion is asked to produce: the target and how to shape the pages for it. The
OCR options (language, engine, pages, password...) are the document's
``service.options.Options``, as for extraction. (Convertorio's dialect reads these from its
``conversion_metadata``, whose names they share.)"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from service.convert.formats import TargetFormat
from service.options import Base

AspectRatio = Annotated[
    str,
    Meta(
        pattern=r"^(original|[1-9][0-9]{0,4}:[1-9][0-9]{0,4})$",
        description="`original`, `1:1`, `4:3`, `16:9`, `9:16`, `21:9` or a custom `W:H`",
        extra={"hint": "use original or two whole numbers from 1 joined by a colon, such as 16:9"},
    ),
]
CropStrategy = Literal["fit", "crop-center", "crop-top", "crop-bottom", "crop-left", "crop-right"]
IconSize = Literal[16, 32, 48, 64, 128, 256]
Side = Annotated[int, Meta(ge=1, le=10_000)]
SampleRate = Literal[8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000]


class Target(Base, kw_only=True):
    """The target format and how to shape the pages for it."""

    target_format: Annotated[TargetFormat, Meta(description="The format to convert to (GET /api/formats)")]
    aspect_ratio: AspectRatio = "original"
    crop_strategy: Annotated[
        CropStrategy, Meta(description="How a new aspect ratio is reached: `fit` pads, the others crop")
    ] = "fit"
    quality: Annotated[int, Meta(ge=1, le=100, description="1 to 100, for jpg, webp, avif and heic")] = 85
    icon_size: Annotated[IconSize, Meta(description="Side of an ico, in pixels")] = 256
    resize_width: Annotated[Side | None, Meta(description="Width in pixels (aspect kept alone)")] = None
    resize_height: Annotated[Side | None, Meta(description="Height in pixels (aspect kept alone)")] = None
    keep_metadata: Annotated[bool, Meta(description="Keep EXIF (GPS included); stripped by default")] = False
    searchable: Annotated[
        bool,
        Meta(description="pdf from an image: add an invisible OCR text layer (a PDF input always gets one)"),
    ] = False
    audio_bitrate: (
        Annotated[int, Meta(ge=8, le=512, description="Audio bitrate in kbit/s (audio and video targets)")]
        | None
    ) = None
    video_bitrate: (
        Annotated[int, Meta(ge=64, le=50_000, description="Video bitrate in kbit/s (video targets)")] | None
    ) = None
    sample_rate: Annotated[SampleRate, Meta(description="Audio sample rate in Hz")] | None = None
    channels: Annotated[Literal[1, 2], Meta(description="Audio channels: 1 (mono) or 2")] | None = None
    fps: Annotated[int, Meta(ge=1, le=60, description="Frames per second (video and gif)")] | None = None
    start: (
        Annotated[
            float,
            Meta(ge=0, le=86_400, description="Media: start this many seconds in (trim); a frame is taken there"),
        ]
        | None
    ) = None
    duration: (
        Annotated[float, Meta(gt=0, le=86_400, description="Media: keep this many seconds from `start` (trim)")]
        | None
    ) = None
    structured: Annotated[
        bool,
        Meta(
            description="json with a vision model and ocr_instructions: one JSON object shaped by the "
            "instructions, instead of the extraction's JSON"
        ),
    ] = False


TARGET_NAMES: tuple[str, ...] = Target.__struct_fields__
