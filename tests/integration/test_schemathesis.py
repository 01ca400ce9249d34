"""Schemathesis over the OpenAPI document, against a real server: no server error, and every
answer as the document describes it (schemathesis's default checks)."""

from __future__ import annotations

import msgspec
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from service.api.app import create_app
from service.settings import Settings
from tests.helpers import ADMIN_KEY, API_KEY

# The document the server publishes; built here in-process so the operations are known when
# pytest collects (the server runs from a fixture).
_SPEC = msgspec.json.decode(msgspec.json.encode(create_app(Settings(auth=False)).openapi_schema.to_schema()))
schema = schemathesis.openapi.from_dict(_SPEC)

#: Examples per operation: enough to find the crashes the probe found, bounded for CI time.
EXAMPLES = 30
#: The one default check left out: it expects every schema-valid body to succeed, and no schema
#: can say "a readable image" (a random base64 string is valid to the schema and rightly a 422).
EXCLUDED = [positive_data_acceptance]
#: Left out for forms only: a form carries every value as text, so schemathesis sends a value it
#: mutated to another type as text too (false as `0`, a list as the same field twice), which
#: Lector reads as a valid spelling; in a form the two cannot be told apart.
FORM_EXCLUDED = [*EXCLUDED, negative_data_rejection]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_keeps_to_its_openapi(case, server):
    key = ADMIN_KEY if case.path.startswith("/admin") else API_KEY
    case.call_and_validate(
        base_url=server.url,
        headers={"Authorization": f"Bearer {key}"},
        excluded_checks=FORM_EXCLUDED if case.media_type == "multipart/form-data" else EXCLUDED,
        timeout=60,
    )
