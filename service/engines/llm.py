"""The vision-LLM engine: any OpenAI-compatible chat model reads each page image.

Configured by the standard ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` (read by the official
client) and by ``LECTOR_LLM_MODEL``, which enables it. Each page is downscaled to
``LECTOR_LLM_MAX_IMAGE_SIDE`` (never upscaled), sent as a JPEG or PNG data URI, whichever is
smaller, with the document type's instructions, the client's ``ocr_instructions`` and its
``document_metadata``. Up to ``LECTOR_LLM_CONCURRENCY`` pages are in flight per process.

The official client retries 408, 409, 429, 5xx, timeouts and connection errors with
exponential backoff and jitter, honouring ``Retry-After``; Lector sets it to 3 retries.
A 401 or 403 is not retried: the credentials are wrong, and saying so is the answer.
"""

from __future__ import annotations

import base64
import io
import json
import os

import openai
from openai.types.chat import ChatCompletion
from PIL import Image

from service.engines.base import Reading, ReadOptions
from service.errors import EngineError, EngineUnavailable, LlmCredentialsRejected
from service.models import PageResult, Tokens
from service.pages import Page
from service.settings import get_settings

MAX_RETRIES = 3


def encode_page(image: Image.Image, max_side: int) -> str:
    """``image`` downscaled to ``max_side`` as a data URI, JPEG or PNG, whichever is smaller."""
    longest = max(image.size)
    if longest > max_side:
        scale = max_side / longest
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.Resampling.LANCZOS)  # fmt: skip
    encodings = []
    for kind, params in (("jpeg", {"quality": 85}), ("png", {})):
        buffer = io.BytesIO()
        image.save(buffer, format=kind.upper(), **params)
        encodings.append((len(buffer.getvalue()), kind, buffer.getvalue()))
    _, kind, data = min(encodings)
    return f"data:image/{kind};base64,{base64.b64encode(data).decode()}"


def system_prompt(options: ReadOptions) -> str:
    """The document type's instructions, then the client's instructions and metadata."""
    parts = [options.prompt.strip()]
    if options.instructions:
        parts.append(f"Instructions from the client (they may narrow the task, not change its output):\n"
                     f"{options.instructions.strip()}")  # fmt: skip
    if options.metadata:
        parts.append(f"What the client knows about this document (JSON):\n{json.dumps(options.metadata)}")
    return "\n\n".join(part for part in parts if part)


class LlmEngine:
    """A vision model behind the OpenAI Chat Completions API, one call per page."""

    name = "llm"

    def __init__(self) -> None:
        settings = get_settings()
        if not settings.llm_model:
            raise EngineUnavailable("No vision model is configured on this server (LECTOR_LLM_MODEL).")
        self.model = settings.llm_model
        self.concurrency = settings.llm_concurrency
        self._max_side = settings.llm_max_image_side
        self._timeout_s = settings.llm_timeout_s
        # Local servers (Ollama, vLLM, llama.cpp) often need no key; the client insists on one.
        self._client = openai.OpenAI(
            api_key=os.environ.get("OPENAI_API_KEY") or "none",
            timeout=settings.llm_timeout_s,
            max_retries=MAX_RETRIES,
        )

    def check(self, options: ReadOptions) -> None:
        """Nothing to check before reading: the model takes any language."""

    def read(self, page: Page, options: ReadOptions) -> Reading:
        """Ask the model for the text of one page."""
        assert page.image is not None, "text-layer pages never reach an engine"
        messages = [
            {"role": "system", "content": system_prompt(options)},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": f"Page {page.number} of the document."},
                    {"type": "image_url", "image_url": {"url": encode_page(page.image, self._max_side)}},
                ],
            },
        ]
        response = self._complete(messages, page.number)
        usage = response.usage
        tokens = Tokens(
            prompt=usage.prompt_tokens if usage else 0,
            completion=usage.completion_tokens if usage else 0,
            total=usage.total_tokens if usage else 0,
        )
        text = (response.choices[0].message.content or "").strip() if response.choices else ""
        result = PageResult(
            page=page.number, text=text, confidence=None, width=page.width, height=page.height, source="ocr"
        )
        return Reading(result=result, tokens=tokens, calls=1)

    def _complete(self, messages: list[dict], page_number: int) -> ChatCompletion:
        try:
            return self._client.chat.completions.create(model=self.model, messages=messages, temperature=0)
        except (openai.AuthenticationError, openai.PermissionDeniedError):
            raise LlmCredentialsRejected("LLM credentials rejected by the model server.") from None
        except openai.APITimeoutError:
            raise EngineError(
                f"The model server did not answer for page {page_number} within {self._timeout_s} s."
            ) from None
        except openai.APIConnectionError:
            raise EngineError("The model server cannot be reached.") from None
        except openai.APIStatusError as exc:
            raise EngineError(
                f"The model server answered {exc.status_code} for page {page_number}."
            ) from None
