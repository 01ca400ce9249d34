"""The paths a worker writes into its webhook events are the API's routes."""

from __future__ import annotations

import pytest

from service.api.app import create_app
from service.api.downloads import DOWNLOAD_ROUTE, SIGNED_ROUTE
from service.api.queued import IDENTIFY_STATUS_ROUTE, STATUS_ROUTE
from service.jobs.links import DOWNLOAD_PATH, IDENTIFY_STATUS_PATH, SIGNED_PATH, STATUS_PATH, Links
from service.settings import Settings


@pytest.mark.parametrize(
    ("route", "path", "parameter"),
    [
        (STATUS_ROUTE, STATUS_PATH, "conversion_id"),
        (IDENTIFY_STATUS_ROUTE, IDENTIFY_STATUS_PATH, "identification_id"),
        (DOWNLOAD_ROUTE, DOWNLOAD_PATH, "conversion_id"),
        (SIGNED_ROUTE, SIGNED_PATH, "conversion_id"),
    ],
)
def test_each_path_is_its_route(route, path, parameter):
    app = create_app(Settings(auth=False))
    assert app.route_reverse(route, **{parameter: "abc123"}) == path.format(**{parameter: "abc123"})


def test_public_links_are_under_the_public_url_and_none_without_it():
    assert Links.public(Settings()) is None
    links = Links.public(Settings(public_url="https://ocr.example.com/lector/"))
    assert links == Links("https://ocr.example.com/lector")
