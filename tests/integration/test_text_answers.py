"""Text answers name their charset once in Content-Type, whichever route makes them."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    ("target", "media_type"),
    [
        ("txt", "text/plain; charset=utf-8"),
        ("md", "text/markdown; charset=utf-8"),
        ("hocr", "text/html; charset=utf-8"),
    ],
)
def test_a_text_file_conversion_names_its_charset_once(client, docs, target, media_type):
    response = client.post(
        "/api/convert-file",
        files={"image": ("page.png", docs["page.png"].read_bytes())},
        data={"target_format": target},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == media_type


def test_the_usage_csv_names_its_charset_once(client):
    response = client.get("/api/usage", params={"format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"


def test_the_batch_results_csv_names_its_charset_once(client, docs):
    submitted = client.post(
        "/api/batches/",
        files={"files": ("page.png", docs["page.png"].read_bytes())},
        data={"document_type_code": "text"},
    )
    assert submitted.status_code == 202, submitted.text
    response = client.get(f"/api/batches/{submitted.json()['batch_id']}/results", params={"format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"


def test_the_metrics_name_their_charset_once(server):
    response = httpx.get(f"{server.url}/metrics")
    assert response.status_code == 200
    media, *parameters = response.headers["content-type"].split("; ")
    assert media == "text/plain"
    assert parameters.count("charset=utf-8") == 1
    assert len(parameters) == len({parameter.split("=")[0] for parameter in parameters})
