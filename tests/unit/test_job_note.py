"""A dialect's note on a job record: kept as given, and bounded."""

from __future__ import annotations

import msgspec
import pytest

from service.jobs.record import NOTE_MAX_BYTES, Conversion, note_checked
from service.options import Options


def test_a_note_is_kept_as_given_and_round_trips_on_the_record():
    note = {"textract": {"api": "analysis", "features": ["FORMS"], "queries": [{"Text": "Total?"}]}}
    assert note_checked(note) is note and note_checked(None) is None
    record = Conversion(
        conversion_id="0" * 32,
        owner="k",
        document_type_code="text",
        created_at="t",
        options=Options(),
        note=note,
    )
    assert msgspec.json.decode(msgspec.json.encode(record), type=Conversion).note == note


def test_a_note_over_the_bound_is_refused():
    with pytest.raises(ValueError, match=str(NOTE_MAX_BYTES)):
        note_checked({"textract": "x" * NOTE_MAX_BYTES})
