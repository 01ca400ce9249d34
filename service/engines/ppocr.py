"""PP-OCRv6 (small detection and recognition models) through rapidocr on onnxruntime.

The models ship inside the rapidocr wheel and are loaded from there by path, once per
process; if they are missing, the engine refuses to start with a sentence instead of letting
rapidocr download anything. One onnxruntime thread per page, pages in parallel across cores
(the core's page pool), as for Tesseract. rapidocr gives a box per line; with
``return_word_box`` it also splits each line into words with their own boxes and scores.

The recognition model reads Latin and Chinese script; the ``lang`` option, which names
Tesseract languages, does not change it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from service.engines.base import Reading, ReadOptions, cores
from service.errors import EngineUnavailable
from service.models import PageResult, Word
from service.pages import Page
from service.settings import Settings

DETECTION_MODEL = "PP-OCRv6_det_small.onnx"
RECOGNITION_MODEL = "PP-OCRv6_rec_small.onnx"


def model_paths() -> tuple[Path, Path]:
    """The bundled detection and recognition models; EngineUnavailable when either is missing."""
    # Found without importing rapidocr, which loads OpenCV and onnxruntime: /ready calls this.
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable("The ppocr engine needs the rapidocr package, which is not installed.")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    paths = folder / DETECTION_MODEL, folder / RECOGNITION_MODEL
    missing = [path.name for path in paths if not path.is_file()]
    if missing:
        raise EngineUnavailable(
            f"The ppocr engine's models are missing from {folder} ({', '.join(missing)}); "
            "reinstall the locked environment (make install)."
        )
    return paths


class PpocrEngine:
    """PP-OCRv6 small, one onnxruntime thread per page."""

    name = "ppocr"

    def __init__(self, settings: Settings | None = None) -> None:
        from rapidocr import RapidOCR

        detection, recognition = model_paths()
        self.concurrency = cores()
        self._ocr = RapidOCR(
            params={
                "Global.log_level": "error",
                "Global.use_cls": False,  # pages are upright: EXIF is applied, scans are not upside down
                "Global.return_word_box": True,
                "Det.model_path": str(detection),
                # The detector sees the page at most 960 px on its longer side: on sroie-dev this
                # took a receipt from 3.76 s to 2.46 s at the same word F1 (0.846 against 0.842);
                # 736 px lost F1 (0.827).
                "Det.limit_type": "max",
                "Det.limit_side_len": 960,
                "Rec.model_path": str(recognition),
                # Each line is recognized alone at its own width: rapidocr's default pads a batch
                # of 6 lines to the widest of them and to at least 320 px (at 48 px high), and the
                # model's time grows with the width it is given. Measured on 40 receipts of
                # sroie-dev, each extracted on Tesseract and on ppocr in turn, one at a time (the
                # median of the per-receipt ratios): 4.20x Tesseract's time before, 2.38x with
                # this, at the same word F1 (0.860 against 0.854) and fields (130 of 160 right
                # against 127). Batches of 6 at their own width saved less than half as much;
                # lines narrowed to 3/4 of their width were faster still but lost F1 (0.799).
                "Rec.rec_batch_num": 1,
                "Rec.rec_img_shape": [3, 48, 48],
                # onnxruntime keeps its buffers between calls instead of allocating them for every
                # line (rapidocr turns the arena off): 2.40x to 1.97x Tesseract's time on the same
                # 40 receipts, same text and fields, for ~140 MB more memory held.
                "EngineConfig.onnxruntime.enable_cpu_mem_arena": True,
                # One thread per call: with 2, a receipt read alone took 1.7 times as long on the
                # busy 2-core machine (each operator's threads wait for one another); pages in
                # parallel use the other cores. Graph optimization stays at rapidocr's highest
                # level (the extended level alone took 1.2 times as long).
                "EngineConfig.onnxruntime.intra_op_num_threads": 1,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )

    @classmethod
    def check(cls, options: ReadOptions) -> None:
        """Every option of a raster page is fine here (``lang`` and ``psm`` do not apply)."""

    def read(self, page: Page, options: ReadOptions) -> Reading:
        """OCR one raster page: its lines, their words with boxes and scores (no tokens)."""
        assert page.image is not None, "text-layer pages never reach an engine"
        import numpy as np

        output: Any = self._ocr(np.asarray(page.image.convert("RGB")))
        lines: list[str] = []
        words: list[Word] = []
        scores: list[float] = []
        for line in output.word_results or ():
            kept = []
            # On a page with no text rapidocr answers one empty word, ("", 1.0, None), in place
            # of a line of words.
            for text, score, points in (line,) if line and isinstance(line[0], str) else line:
                if not text.strip() or points is None:
                    continue
                confidence = round(float(score) * 100, 1)
                xs, ys = [int(point[0]) for point in points], [int(point[1]) for point in points]
                scores.append(confidence)
                if confidence >= options.min_confidence:
                    kept.append(text)
                if options.include_words:
                    words.append(
                        Word(text=text, confidence=confidence, box=[min(xs), min(ys), max(xs), max(ys)])
                    )
            if kept:
                lines.append(" ".join(kept))
        result = PageResult(
            page=page.number,
            text="\n".join(lines),
            confidence=round(sum(scores) / len(scores), 1) if scores else 0.0,
            width=page.width,
            height=page.height,
            source="ocr",
            words=words,
        )
        return Reading(result=result)
