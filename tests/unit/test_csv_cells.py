"""Finding 10: CSV results never carry a live spreadsheet formula (OWASP CSV injection)."""

import csv
import io

import pytest

from service.jobs.batches import csv_cell, csv_lines


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTAB", "'\tTAB"),
        ("ACME Sdn Bhd", "ACME Sdn Bhd"),
        (-12.5, -12.5),  # a negative amount stays a number
        (None, ""),
    ],
)
def test_formula_starts_are_neutralized(value, cell):
    assert csv_cell(value) == cell


def test_a_results_row_is_written_neutralized():
    records = iter([{"index": 0, "filename": "=cmd|' /C calc'!A0", "status": "SUCCESS", "error": None,
                     "tokens_used": 0, "fields": {"total": -3.0, "merchant_name": "@evil"}}])  # fmt: skip
    text = b"".join(csv_lines(records, ["index", "filename", "status", "error", "tokens_used", "total",
                                        "merchant_name"])).decode()  # fmt: skip
    row = list(csv.reader(io.StringIO(text)))[1]
    assert row[1].startswith("'=") and row[6] == "'@evil" and row[5] == "-3.0"
