"""The README's reference parts agree with the types they describe."""

import json
import re

from service.models import OcrData, RawResponse
from service.reference import README, render


def test_the_generated_tables_are_current():
    text = README.read_text()
    assert render(text) == text, "README.md is out of date: run `make reference`"


def test_the_sync_answer_example_has_every_key_of_the_answer():
    text = README.read_text()
    block = re.search(r"<!-- example:sync-answer -->\n```json\n(.*?)\n```", text, re.S)
    assert block, "README.md lost its sync-answer example"
    example = json.loads(block.group(1))
    assert set(example["data"]) == set(OcrData.__struct_fields__)
    assert set(example["data"]["raw_response"]) == set(RawResponse.__struct_fields__)
