"""What a model server's failures mean, and whether it serves the configured model.

A refusal (a 4xx, or a 5xx whose message names the request, as llama.cpp answers 500
"image input is not supported by this server" for an image sent to a text-only model) is
final: ``ModelClient`` does not retry it, and it becomes ``ModelRefused`` (502) with the
server's reason. A request over the server's context becomes ``ContextExceeded`` (422) with
the tokens it needed and the context's size when the server said them. A server that cannot
be reached, or is overloaded (429, 503), becomes ``ModelUnreachable`` (503, Retry-After); one
that is too slow ``ModelTimeout`` (504); any other 5xx ``ModelServerError`` (502).

The server's reason is quoted, on one line, trimmed to ``REASON_CHARS``, with anything shaped
like a key blanked out; it is the server's error message, never the request.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import openai

from service.errors import (
    ContextExceeded,
    ModelRefused,
    ModelServerError,
    ModelTimeout,
    ModelUnreachable,
)

#: How much of the server's reason a sentence quotes.
REASON_CHARS = 200
#: How long /ready waits for the model server's list of models.
READY_TIMEOUT_S = 2.0
VISION_HINT = "If the model has no vision, set LECTOR_LLM_VISION=no."

#: A 5xx whose message says this blames the request, not the server: llama.cpp answers 500
#: for an image a text-only model cannot take, and older builds for a request over the context.
_NAMES_THE_REQUEST = re.compile(
    r"not supported|unsupported|invalid|exceed|context (size|length|window)|too (long|large|many)"
    r"|malformed|failed to (parse|decode|load image|tokenize)",
    re.IGNORECASE,
)
_CONTEXT = re.compile(r"context (size|length|window)|too many tokens|prompt is too long", re.IGNORECASE)
_IMAGE = re.compile(r"image|vision|multimodal|mmproj", re.IGNORECASE)
#: llama.cpp: "request (4476 tokens) exceeds the available context size (4096 tokens), ..."
_LLAMA_NUMBERS = re.compile(r"\((\d+) tokens\) exceeds the available context size \((\d+) tokens\)")
#: OpenAI: "This model's maximum context length is 8192 tokens. However, your messages
#: resulted in 9000 tokens."
_OPENAI_NUMBERS = re.compile(r"maximum context length is (\d+) tokens.*?(\d+) tokens", re.DOTALL)
_KEYLIKE = re.compile(r"\b(sk-|Bearer )[A-Za-z0-9_\-*]{6,}")


def error_of(body: Any, text: str = "") -> dict[str, Any]:
    """The error object of an OpenAI-shaped error body (``{"error": {...}}``, the object
    itself, or a bare message), as a dict with at least ``message``."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return {**inner, "message": str(inner.get("message") or inner.get("detail") or "")}
        if isinstance(inner, str):
            return {"message": inner}
    if isinstance(body, str):
        return {"message": body}
    return {"message": text}


def _body_error(response: Any) -> dict[str, Any]:
    try:
        return error_of(json.loads(response.content or b"null"), response.text)
    except ValueError:
        return error_of(None, response.text)


def is_refusal(status: int, error: dict[str, Any]) -> bool:
    """Whether a failed answer refuses the request itself, so that sending it again cannot help."""
    if status in (401, 403, 408, 409, 429):
        return False  # credentials, or the server's own state: the caller decides
    message = error.get("message", "")
    if 400 <= status < 500:
        return True
    return status == 500 and bool(_NAMES_THE_REQUEST.search(message))


def exceeds_context(error: dict[str, Any]) -> bool:
    """Whether the error says the request needs more tokens than the context holds."""
    return error.get("type") == "exceed_context_size_error" or bool(_CONTEXT.search(error.get("message", "")))


def reason(error: dict[str, Any], secret: str | None = None) -> str:
    """The server's message on one line, keys blanked out, trimmed to ``REASON_CHARS``."""
    message = " ".join(str(error.get("message") or "").split())
    if secret:
        message = message.replace(secret, "[key]")
    message = _KEYLIKE.sub("[key]", message)
    if len(message) > REASON_CHARS:
        message = message[: REASON_CHARS - 1].rstrip() + "…"
    return message


def context_numbers(error: dict[str, Any]) -> tuple[int | None, int | None]:
    """(tokens the request needed, tokens the context holds), each None when not said."""
    needed, allowed = error.get("n_prompt_tokens"), error.get("n_ctx")
    if isinstance(needed, int) and isinstance(allowed, int):
        return needed, allowed
    message = error.get("message", "")
    if found := _LLAMA_NUMBERS.search(message):
        return int(found.group(1)), int(found.group(2))
    if found := _OPENAI_NUMBERS.search(message):
        return int(found.group(2)), int(found.group(1))
    return None, None


def status_error(exc: openai.APIStatusError, page_number: int, secret: str | None = None) -> ModelServerError:
    """The Lector error for the model server's failed answer ``exc`` about ``page_number``
    (401 and 403 are the caller's: they name the credentials)."""
    error = error_of(exc.body, exc.response.text if exc.response is not None else "")
    why = reason(error, secret)
    said = f': "{why}"' if why else ""
    if exceeds_context(error):
        needed, allowed = context_numbers(error)
        if needed is not None and allowed is not None:
            size = f"needs {needed} tokens; the model server's context holds {allowed}"
        else:
            size = "needs more tokens than the model server's context holds (it did not say how many)"
        return ContextExceeded(
            f"The request for page {page_number} {size}: give the model server a larger context, "
            "or send smaller pages (LECTOR_LLM_MAX_IMAGE_SIDE).",
            needed=needed,
            allowed=allowed,
        )
    status = exc.status_code
    if status in (429, 503):
        return ModelUnreachable(f"The model server is overloaded ({status}){said}; try again shortly.")
    if status == 408:
        return ModelTimeout(f"The model server timed out on the request for page {page_number} (408).")
    if is_refusal(status, error):
        hint = f" {VISION_HINT}" if _IMAGE.search(why) else ""
        return ModelRefused(
            f"The model server refused the request for page {page_number} ({status}){said}.{hint}"
        )
    return ModelServerError(f"The model server failed on page {page_number} ({status}){said}.")


class ModelClient(openai.OpenAI):
    """The official client, which retries every 5xx: this one does not retry a refusal
    (``is_refusal``) or a request over the context, which would be refused again."""

    # The client's response type is its own fork of httpx's (httpx2), which Lector does not
    # import; this reads only what both have.
    def _should_retry(self, response: Any) -> bool:
        if response.status_code >= 500:
            response.read()  # the client reads it again when it raises: the content is kept
            error = _body_error(response)
            if is_refusal(response.status_code, error) or exceeds_context(error):
                return False
        return bool(super()._should_retry(response))


def serving(base_url: str, model: str, api_key: str | None, timeout_s: float = READY_TIMEOUT_S) -> str:
    """ "ok" when the server at ``base_url`` lists ``model`` among its models
    (``GET /models``), or a sentence saying what is wrong. The key is sent, never said."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    url = base_url.rstrip("/") + "/models"
    try:
        response = httpx.get(url, headers=headers, timeout=timeout_s)
    except httpx.TimeoutException:
        return f"the model server at {base_url} did not answer within {timeout_s:g} s"
    except httpx.HTTPError:
        return f"the model server at {base_url} cannot be reached"
    if response.status_code in (401, 403):
        return f"the model server at {base_url} rejected Lector's credentials ({response.status_code})"
    if response.status_code != 200:
        return f"the model server at {base_url} answered {response.status_code} to GET /models"
    try:
        listed = [
            str(entry.get("id")) for entry in response.json().get("data", []) if isinstance(entry, dict)
        ]
    except (ValueError, AttributeError):
        return f"the model server at {base_url} answered GET /models with no list of models"
    if model not in listed:
        served = ", ".join(listed[:20]) or "none"
        return f"the model {model} is not among the served models: {served}"
    return "ok"
