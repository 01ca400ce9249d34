"""The vision-LLM engine: any OpenAI-compatible chat model reads each page image.

Configured by the standard ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` and by
``LECTOR_LLM_MODEL``, which enables it, all read once into the settings it is built with.
Each page is downscaled to ``LECTOR_LLM_MAX_IMAGE_SIDE`` (never upscaled), sent as a JPEG or
PNG data URI, whichever is smaller, with the document type's instructions, the client's
``ocr_instructions`` and its ``document_metadata``. Up to ``LECTOR_LLM_CONCURRENCY`` pages
are in flight per process.

The official client retries 408, 409, 429, 5xx, timeouts and connection errors with
exponential backoff and jitter, honouring ``Retry-After``; Lector sets it to 3 retries.
A 401 or 403 is not retried: the credentials are wrong, and saying so is the answer; nor is
a refusal of the request (``service.engines.model_server`` says what each failure means).
"""

from __future__ import annotations

import base64
import io
import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import openai
from jsonschema import Draft202012Validator
from openai.types.chat import ChatCompletion
from PIL import Image

from service.engines.base import FieldsReading, Reading, ReadOptions
from service.engines.model_server import VISION_HINT, ModelClient, status_error
from service.engines.replies import has_values, normalize, salvage
from service.errors import (
    EngineError,
    EngineUnavailable,
    LlmCredentialsRejected,
    ModelRefused,
    ModelReplyCut,
    ModelTimeout,
    ModelUnreachable,
)
from service.models import PageResult, Tokens
from service.options import AUTO_LANGUAGE
from service.pages import Page
from service.settings import Settings

MAX_RETRIES = 3


class FormatMemory:
    """Base URLs whose server refused `json_schema` response formats: they get `json_object`
    with the schema in the prompt for ``ttl_s`` seconds, without a wasted call each time, and
    are asked for `json_schema` again after that (the server may have been upgraded)."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def json_object_only(self, base_url: str) -> bool:
        """Whether ``base_url`` refused `json_schema` less than ``ttl_s`` seconds ago."""
        with self._lock:
            return self.clock() < self._until.get(base_url, -math.inf)

    def refused_schema(self, base_url: str) -> None:
        """Remember that ``base_url`` refused a `json_schema` response format just now."""
        with self._lock:
            self._until[base_url] = self.clock() + self.ttl_s


#: How long a refusal of `json_schema` is remembered.
FORMAT_MEMORY_S = 3600.0
_FORMATS = FormatMemory(FORMAT_MEMORY_S)
#: The model calls in flight in this process, whichever engine makes them (llm, hybrid,
#: llm-text, several requests at once): at most LECTOR_LLM_CONCURRENCY to one server, as its
#: setting says. Keyed by the server and the limit, so that registries built from other
#: settings in the same process (a test's, a benchmark's) each keep their own.
_IN_FLIGHT: dict[tuple[str | None, int], threading.BoundedSemaphore] = {}
_IN_FLIGHT_LOCK = threading.Lock()


def _calls_in_flight(server: str | None, limit: int) -> threading.BoundedSemaphore:
    """The process's semaphore for model calls to ``server`` (made on first use)."""
    with _IN_FLIGHT_LOCK:
        return _IN_FLIGHT.setdefault((server, limit), threading.BoundedSemaphore(limit))


def parse_reply(reply: str | None) -> dict[str, Any] | None:
    """The JSON object ``reply`` holds, or None."""
    try:
        value = json.loads(reply or "")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _unfenced(reply: str | None) -> str | None:
    """``reply`` without the Markdown code fence a model may wrap its JSON in."""
    if reply is None:
        return None
    stripped = reply.strip()
    if stripped.startswith("```") and stripped.endswith("```"):
        stripped = stripped[3:-3].removeprefix("json").strip()
    return stripped


def schema_problems(value: dict[str, Any] | None, schema: dict[str, Any]) -> list[tuple[str, str]]:
    """Why ``value`` (a parsed reply; None: not a JSON object) is not an instance of
    ``schema``: (full reason, path and rule) per violation.

    The full reason quotes the offending value and goes back to the model in the repair call;
    the path and rule alone go into errors and logs, which must not carry document content.
    """
    if value is None:
        return [("the reply must be one JSON object", "the reply is not a JSON object")]
    problems = []
    for error in sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: e.json_path):
        if error.validator == "required":  # the message names a schema field, not a value
            missing = error.message.split("'")[1] if "'" in error.message else "?"
            problems.append((error.message, f"$.{missing} (required)"))
        else:
            problems.append((f"{error.json_path}: {error.message}", f"{error.json_path} ({error.validator})"))
    return problems


def _strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as a response format takes it (without the document-level keywords)."""
    return {name: value for name, value in schema.items() if name not in ("$schema", "$id", "title")}


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

    def __init__(self, settings: Settings) -> None:
        if not settings.llm_model:
            raise EngineUnavailable("No vision model is configured on this server (LECTOR_LLM_MODEL).")
        self.model = settings.llm_model
        self.concurrency = settings.llm_concurrency
        self.pages_per_call = settings.llm_pages_per_call
        self._max_side = settings.llm_max_image_side
        self._timeout_s = settings.llm_timeout_s
        self._max_output = settings.llm_max_output_tokens
        self._in_flight = _calls_in_flight(settings.openai_base_url, settings.llm_concurrency)
        self._frequency_penalty = settings.llm_frequency_penalty
        self.formats = _FORMATS  # shared by every engine of the process, as the server is
        # Local servers (Ollama, vLLM, llama.cpp) often need no key; the client insists on one.
        self._secret = settings.openai_api_key  # blanked out of the server's reasons
        self._client = ModelClient(
            api_key=settings.openai_api_key or "none",
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout_s,
            max_retries=MAX_RETRIES,
        )

    @classmethod
    def check(cls, options: ReadOptions) -> None:
        """Nothing to check before reading: the model takes any language."""

    def read(self, page: Page, options: ReadOptions) -> Reading:
        """Ask the model for the text of one page."""
        assert page.image is not None, "text-layer pages never reach an engine"
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": system_prompt(options)},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": f"Page {page.number} of the document."},
                    *self.page_parts(page, options),
                ],
            },
        ]
        response = self._complete(messages, page.number)
        tokens = _add(Tokens(), response)
        text = (response.choices[0].message.content or "").strip() if response.choices else ""
        result = PageResult(
            page=page.number, text=text, confidence=None, width=page.width, height=page.height, source="ocr"
        )
        return Reading(result=result, tokens=tokens, calls=1)

    def page_parts(self, page: Page, options: ReadOptions) -> list[dict[str, Any]]:
        """How one page goes to the model: its picture, or the text of its own text layer."""
        if page.image is None:  # a PDF page's own text layer needs no picture
            return [{"type": "text", "text": f"Text of page {page.number}:\n{page.text}"}]
        return [{"type": "image_url", "image_url": {"url": encode_page(page.image, self._max_side)}}]

    def read_fields(
        self, pages: list[Page], code: str, schema: dict[str, Any], options: ReadOptions
    ) -> FieldsReading:
        """The fields of ``schema`` found on ``pages`` (one call, plus one repair if needed)."""
        return self.fields_from(self._pages_content(pages, options), pages[0].number, code, schema, options)

    def fields_from(
        self,
        content: list[dict[str, Any]],
        page_number: int,
        code: str,
        schema: dict[str, Any],
        options: ReadOptions,
    ) -> FieldsReading:
        """The fields of ``schema`` the model finds in ``content`` (a user message's parts about
        pages from ``page_number`` on): one call, plus one repair if needed."""  # fmt: skip
        base_url = str(self._client.base_url)
        use_schema = not self.formats.json_object_only(base_url)
        messages = self._typed_messages(options, schema, content, schema_in_prompt=not use_schema)
        tokens, calls = Tokens(), 0
        for attempt in ("first", "repair"):
            try:
                response = self._complete(
                    messages, page_number, self._response_format(code, schema, use_schema)
                )
            except openai.BadRequestError:  # raised for json_schema only: fall back
                self.formats.refused_schema(base_url)
                use_schema = False
                messages = self._typed_messages(options, schema, content, schema_in_prompt=True)
                response = self._complete(messages, page_number, self._response_format(code, schema, False))
            tokens, calls = _add(tokens, response), calls + 1
            self._check_not_cut(response, page_number)
            reply = response.choices[0].message.content if response.choices else None
            parsed = parse_reply(reply)
            value = normalize(parsed, schema) if parsed is not None else None
            problems = schema_problems(value, schema)
            if not problems:
                assert value is not None  # no problems: it is an object
                return FieldsReading(fields=value, tokens=tokens, calls=calls)
            if attempt == "first":
                messages = [
                    *messages,
                    {"role": "assistant", "content": reply or ""},
                    {"role": "user", "content": "Your reply does not follow the JSON Schema: "
                     + "; ".join(reason for reason, _ in problems[:20])
                     + ". Answer again with corrected JSON only."},
                ]  # fmt: skip
        if value is not None:
            fields, paths = salvage(value, schema)
            if has_values(fields) and not schema_problems(fields, schema):
                warning = (
                    f"The model's reply broke the {code} schema at {', '.join(paths[:10])}; "
                    "those fields are null."
                )
                return FieldsReading(fields=fields, tokens=tokens, calls=calls, warnings=[warning])
        violated = ", ".join(where for _, where in problems[:10])
        raise EngineError(f"The model's reply does not follow the {code} schema: {violated}.")

    def _check_not_cut(self, response: ChatCompletion, page_number: int) -> None:
        """ModelReplyCut when the reply stopped at the token limit: a JSON answer cut there is
        no answer, and asking again for a repair would resend all of it."""
        if response.choices and response.choices[0].finish_reason == "length":
            raise ModelReplyCut(
                f"The model's reply for page {page_number} reached LECTOR_LLM_MAX_OUTPUT_TOKENS "
                f"({self._max_output} tokens) before it ended."
            )

    def read_object(self, pages: list[Page], options: ReadOptions) -> FieldsReading:
        """One JSON object about ``pages``, shaped as ``options.instructions`` ask: JSON mode
        with no schema (one call, plus one repair when the reply is not one object)."""
        system = system_prompt(options) + "\n\nAnswer with one JSON object, shaped as the instructions ask."
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": system},
            {"role": "user", "content": self._pages_content(pages, options)},
        ]
        tokens, calls = Tokens(), 0
        for attempt in ("first", "repair"):
            response = self._complete(messages, pages[0].number, {"type": "json_object"})
            tokens, calls = _add(tokens, response), calls + 1
            reply = response.choices[0].message.content if response.choices else None
            value = parse_reply(_unfenced(reply))
            if value is not None:
                return FieldsReading(fields=value, tokens=tokens, calls=calls)
            if attempt == "first":
                again = "Your reply is not one JSON object. Answer again with one JSON object only."
                messages = [
                    *messages,
                    {"role": "assistant", "content": reply or ""},
                    {"role": "user", "content": again},
                ]
        raise EngineError("The model's reply is not one JSON object.")

    def _pages_content(self, pages: list[Page], options: ReadOptions) -> list[dict[str, Any]]:
        """The user message of a call about several pages: which pages, then each page."""
        content: list[dict[str, Any]] = [
            {"type": "text", "text": f"Pages {pages[0].number} to {pages[-1].number} of the document."}
        ]
        for page in pages:
            content.extend(self.page_parts(page, options))
        return content

    def _typed_messages(
        self,
        options: ReadOptions,
        schema: dict[str, Any],
        content: list[dict[str, Any]],
        *,
        schema_in_prompt: bool,
    ) -> list[dict[str, Any]]:
        system = system_prompt(options)
        if schema_in_prompt:
            system += f"\n\nAnswer with one JSON object that follows this JSON Schema:\n{json.dumps(schema)}"
        return [{"role": "system", "content": system}, {"role": "user", "content": content}]

    @staticmethod
    def _response_format(code: str, schema: dict[str, Any], use_schema: bool) -> dict[str, Any]:
        if use_schema:
            return {
                "type": "json_schema",
                "json_schema": {"name": code, "strict": True, "schema": _strict_schema(schema)},
            }
        return {"type": "json_object"}

    def _complete(
        self, messages: list[dict[str, Any]], page_number: int, response_format: dict[str, Any] | None = None
    ) -> ChatCompletion:
        # The messages are plain dicts in the Chat Completions shape; the client's TypedDicts
        # would only restate it.
        request: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": self._max_output,
        }
        if self._frequency_penalty is not None:
            request["frequency_penalty"] = self._frequency_penalty
        if response_format:
            request["response_format"] = response_format
        try:
            with self._in_flight:
                response: ChatCompletion = self._client.chat.completions.create(**request)
            return response
        except openai.BadRequestError as exc:
            error = status_error(exc, page_number, self._secret)
            plain = type(error) is ModelRefused and VISION_HINT not in error.message
            if response_format and response_format["type"] == "json_schema" and plain:
                raise  # read_fields falls back to json_object
            raise error from None
        except (openai.AuthenticationError, openai.PermissionDeniedError):
            raise LlmCredentialsRejected("LLM credentials rejected by the model server.") from None
        except openai.APITimeoutError:
            raise ModelTimeout(
                f"The model server did not answer for page {page_number} within {self._timeout_s} s."
            ) from None
        except openai.APIConnectionError:
            raise ModelUnreachable("The model server cannot be reached.") from None
        except openai.APIStatusError as exc:
            raise status_error(exc, page_number, self._secret) from None


def _add(tokens: Tokens, response: ChatCompletion) -> Tokens:
    """``tokens`` plus what ``response`` used."""
    usage = response.usage
    if usage is None:
        return tokens
    return Tokens(
        prompt=tokens.prompt + usage.prompt_tokens,
        completion=tokens.completion + usage.completion_tokens,
        total=tokens.total + usage.total_tokens,
    )


class HybridEngine(LlmEngine):
    """The vision model, given Tesseract's reading of each page along with its picture.

    Small models read numbers and names better with the OCR text beside the image, and the
    text costs few tokens next to the image.
    """

    name = "hybrid"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        # Built here, not through the registry: Engines.get holds the registry's lock while
        # it builds this engine. Tesseract keeps no state worth sharing.
        from service.engines.tesseract import TesseractEngine

        self._tesseract = TesseractEngine(settings)

    @classmethod
    def check(cls, options: ReadOptions) -> None:
        """Tesseract's checks: the language must be installed."""
        from service.engines.tesseract import TesseractEngine

        TesseractEngine.check(options)

    def page_parts(self, page: Page, options: ReadOptions) -> list[dict[str, Any]]:
        """The page as the vision model gets it, plus Tesseract's text of it."""
        parts = super().page_parts(page, options)
        if page.image is not None:
            ocr_options = ReadOptions(lang=options.lang, psm=options.psm)
            if options.lang == AUTO_LANGUAGE:  # Tesseract reads the page in the language it finds
                from service.engines.detected import DetectedLanguage

                ocr = DetectedLanguage(self._tesseract, self._tesseract).read(page, ocr_options).result.text
            else:
                ocr = self._tesseract.read(page, ocr_options).result.text
            parts.append(
                {
                    "type": "text",
                    "text": f"Tesseract's reading of page {page.number} (it may contain errors):\n{ocr}",
                }
            )
        return parts
