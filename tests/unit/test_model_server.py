"""What a model server's error bodies say: refusals, the context's numbers, reasons without keys."""

from __future__ import annotations

from service.engines.model_server import context_numbers, error_of, exceeds_context, is_refusal, reason


def test_openai_and_llama_cpp_context_errors_give_their_numbers() -> None:
    openai_error = error_of(
        {
            "error": {
                "message": "This model's maximum context length is 8192 tokens. However, your messages "
                "resulted in 9000 tokens. Please reduce the length of the messages.",
                "type": "invalid_request_error",
                "code": "context_length_exceeded",
            }
        }
    )
    assert exceeds_context(openai_error) and context_numbers(openai_error) == (9000, 8192)
    llama = error_of(
        {"error": {"message": "request (5120 tokens) exceeds the available context size (4096 tokens)"}}
    )
    assert exceeds_context(llama) and context_numbers(llama) == (5120, 4096)
    old = error_of(
        {"error": {"message": "the request exceeds the available context size, try increasing it"}}
    )
    assert exceeds_context(old) and context_numbers(old) == (None, None)


def test_a_500_is_a_refusal_only_when_it_names_the_request() -> None:
    assert is_refusal(500, {"message": "image input is not supported by this server"})
    assert not is_refusal(500, {"message": "CUDA out of memory"})
    assert is_refusal(400, {"message": "bad request"}) and is_refusal(404, {"message": "no such model"})
    assert not is_refusal(429, {"message": "slow down"}) and not is_refusal(503, {"message": "invalid state"})


def test_reasons_are_one_line_without_keys() -> None:
    said = reason(
        {"message": "Incorrect API key provided:\n sk-proj-abcdef123456. Or key my-own-secret"},
        "my-own-secret",
    )
    assert said == "Incorrect API key provided: [key]. Or key [key]"
    assert error_of("plain text failure") == {"message": "plain text failure"}
    assert error_of(None, "<html>502</html>") == {"message": "<html>502</html>"}
