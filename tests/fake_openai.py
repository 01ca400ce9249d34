"""A small server that speaks the OpenAI Chat Completions and audio transcriptions APIs, for
tests and local demos.

Lector's real ``openai`` client talks to it over HTTP. It answers each page with a
predictable transcription and predictable token usage, and each recording
(``POST /v1/audio/transcriptions``, multipart) with ``SPOKEN`` in the shape asked for: plain
``json``, or ``verbose_json`` with segments and, when asked, words beside them as OpenAI
lists them. It records every request it receives (``GET /_requests``), and can be told what
to answer next (``POST /_script`` with a list of answers, used one per request:
``{"status": 500, "headers": {...}, "body": {...}}`` answers that, ``{"content": "..."}`` is
the model's reply to a chat request, and ``{"delay": 2}`` waits that many seconds first).
``GET /v1/models`` lists ``SERVED`` (neither recorded nor scripted); ``POST /_models`` with a
list of names serves those instead. ``POST /_reset`` forgets all three.

By hand: ``python -m tests.fake_openai --port 9999``, then run Lector with
``OPENAI_BASE_URL=http://127.0.0.1:9999/v1 LECTOR_LLM_MODEL=fake-vision`` (and
``LECTOR_ASR_MODEL=fake-whisper`` for speech).
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import hashlib
import io
import json
import re
import threading
import time
import wave
from contextlib import AbstractContextManager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.helpers import serving_in_thread

PROMPT_TOKENS_PER_IMAGE = 100
PROMPT_TOKENS_BASE = 50
COMPLETION_TOKENS = 20
_PAGE = re.compile(r"Page (\d+)")


#: What the fake speech model hears in every recording: (start, end, text) per segment.
SPOKEN = [(0.0, 2.4, " The total is forty two dollars."), (2.4, 3.6, " Thank you.")]
#: The models ``GET /v1/models`` lists until told otherwise.
SERVED = ["fake-vision", "fake-whisper"]


def transcription(page: int | None) -> str:
    """What the fake model says a page holds."""
    return f"Transcribed text of page {page}" if page is not None else "Transcribed text"


def example_fields(body: dict[str, Any]) -> dict[str, Any]:
    """A schema-conformant answer: every field null but the first text one, "Example".

    The schema comes from a `json_schema` response format, or from the system prompt after
    a fallback to `json_object`.
    """
    response_format = body["response_format"]
    if response_format.get("type") == "json_schema":
        schema = response_format["json_schema"]["schema"]
    else:
        system = body["messages"][0]["content"]
        schema = json.loads(system[system.index("{", system.rindex("JSON Schema:")) :])
    fields: dict[str, Any] = dict.fromkeys(schema.get("properties", {}))
    text_fields = [
        name for name, spec in schema.get("properties", {}).items() if "string" in spec.get("type", [])
    ]
    if text_fields:
        fields[text_fields[0]] = "Example"
    return fields


class FakeOpenAI:
    """The server's state: what it received and what it was told to answer next."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[dict[str, Any]] = []
        self.models = list(SERVED)
        self.lock = threading.Lock()

    def answer(
        self, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        """The status, headers and body for one chat completion request."""
        scripted = self.received({"body": body, "authorization": headers.get("authorization", "")})
        if scripted is not None and "status" in scripted:
            return scripted_answer(scripted)
        images, page = 0, None
        for message in body.get("messages", []):
            content = message.get("content")
            parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
            for part in parts:
                if part.get("type") == "image_url":
                    images += 1
                elif part.get("type") == "text" and message.get("role") == "user":
                    found = _PAGE.search(part.get("text", ""))
                    page = int(found.group(1)) if found else page
        prompt_tokens = PROMPT_TOKENS_BASE + PROMPT_TOKENS_PER_IMAGE * images
        if scripted is not None and "content" in scripted:
            reply = scripted["content"]
        elif body.get("response_format"):
            reply = json.dumps(example_fields(body))
        else:
            reply = transcription(page)
        return 200, {}, {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": reply}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": COMPLETION_TOKENS,
                      "total_tokens": prompt_tokens + COMPLETION_TOKENS},
        }  # fmt: skip

    def received(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """Record ``request``; the scripted answer to it, if any, after its delay."""
        with self.lock:
            self.requests.append(request)
            scripted = self.script.pop(0) if self.script else None
        if scripted is not None and scripted.get("delay"):
            time.sleep(scripted["delay"])
        return scripted

    def transcribe(
        self, fields: dict[str, Any], file: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        """The status, headers and body for one audio transcription request."""
        request = {"fields": fields, "file": file, "authorization": headers.get("authorization", "")}
        scripted = self.received(request)
        if scripted is not None and "status" in scripted:
            return scripted_answer(scripted)
        text = "".join(segment for _, _, segment in SPOKEN).strip()
        if fields.get("response_format", "json") == "json":
            return 200, {}, {"text": text}
        answer: dict[str, Any] = {
            "task": "transcribe",
            "language": fields.get("language", "english"),
            "duration": file["duration"],
            "text": text,
            "segments": [
                {"id": number, "seek": 0, "start": start, "end": end, "text": segment, "tokens": [],
                 "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.2, "no_speech_prob": 0.01}
                for number, (start, end, segment) in enumerate(SPOKEN)
            ],
        }  # fmt: skip
        if "word" in fields.get("timestamp_granularities[]", []):
            answer["words"] = spoken_words()
        return 200, {}, answer


def spoken_words() -> list[dict[str, Any]]:
    """The words of ``SPOKEN`` as OpenAI lists them: without punctuation, each segment's time
    shared out evenly."""
    words = []
    for start, end, segment in SPOKEN:
        tokens = re.findall(r"[\w']+", segment)
        step = (end - start) / len(tokens)
        for number, token in enumerate(tokens):
            words.append(
                {
                    "word": token,
                    "start": round(start + number * step, 3),
                    "end": round(start + (number + 1) * step, 3),
                }
            )
    return words


def scripted_answer(scripted: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
    """The answer a script entry with a status gives."""
    default = {"error": {"message": "scripted failure", "type": "server_error"}}
    return scripted["status"], scripted.get("headers", {}), scripted.get("body", default)


def multipart(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """A multipart/form-data body's fields (a list for a name sent more than once) and its
    file: name, type, size, SHA-256 and, for a WAV, duration."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, Any] = {}
    file: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            duration = 0.0
            try:
                with wave.open(io.BytesIO(data)) as sound:
                    duration = sound.getnframes() / sound.getframerate()
            except (wave.Error, EOFError):
                pass
            file = {
                "field": name,
                "name": part.get_filename(),
                "content_type": part.get_content_type(),
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "duration": duration,
            }
        elif name.endswith("[]"):
            fields.setdefault(name, []).append(data.decode())
        else:
            fields[name] = data.decode()
    return fields, file


def _handler(state: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            with suppress(BrokenPipeError, ConnectionResetError):  # a client that gave up waiting
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"null")

        def do_GET(self) -> None:
            if self.path == "/_requests":
                with state.lock:
                    return self._send(200, state.requests)
            if self.path.endswith("/models"):
                with state.lock:
                    listed = [{"id": name, "object": "model", "created": 0, "owned_by": "fake"}
                              for name in state.models]  # fmt: skip
                return self._send(200, {"object": "list", "data": listed})
            return self._send(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            if self.path.endswith("/chat/completions"):
                headers = {name.lower(): value for name, value in self.headers.items()}
                status, extra, body = state.answer(self._body(), headers)
                return self._send(status, body, extra)
            if self.path.endswith("/audio/transcriptions"):
                headers = {name.lower(): value for name, value in self.headers.items()}
                length = int(self.headers.get("Content-Length") or 0)
                fields, file = multipart(self.headers.get("Content-Type", ""), self.rfile.read(length))
                status, extra, body = state.transcribe(fields, file, headers)
                return self._send(status, body, extra)
            if self.path == "/_script":
                with state.lock:
                    state.script.extend(self._body())
                return self._send(200, {"queued": len(state.script)})
            if self.path == "/_reset":
                with state.lock:
                    state.requests.clear()
                    state.script.clear()
                    state.models = list(SERVED)
                return self._send(200, {})
            if self.path == "/_models":
                models = self._body()
                with state.lock:
                    state.models = models
                return self._send(200, {"models": models})
            return self._send(404, {"error": {"message": "not found"}})

    return Handler


def running(port: int = 0) -> AbstractContextManager[str]:
    """Serve on loopback in a thread; yields the base URL (add ``/v1`` for the client)."""
    return serving_in_thread(_handler(FakeOpenAI()), port)


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake OpenAI Chat Completions and transcriptions server")
    parser.add_argument("--port", type=int, default=9999)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _handler(FakeOpenAI()))
    print(f"fake OpenAI API on http://127.0.0.1:{args.port}/v1 (Ctrl-C to stop)", flush=True)
    with suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
