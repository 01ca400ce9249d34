"""Where a webhook may be delivered: the shapes refused."""

from __future__ import annotations

import pytest

from service.errors import InvalidOption
from service.jobs.webhooks import callback_target, check_url
from service.settings import load_settings


def settings():
    return load_settings({})


@pytest.mark.parametrize(
    ("url", "sentence"),
    [
        ("http://127.0.0.1\\@1.2.3.4/", "callback_url must not contain spaces, backslashes or control"),
        ("", "callback_url must be a URL of at most 2048 characters."),
        ("http://u:p@1.2.3.4/", "callback_url must not contain a user name or password."),
        ("http://1.2.3.4:0/", "callback_url has a port outside 1-65535."),
        ("http://1.2.3.4%20/", "callback_url's host is not a host name or an IP address."),
        ("ftp://1.2.3.4/", "callback_url must be an http or https URL with a host."),
    ],
)
def test_a_callback_url_of_an_ambiguous_shape_is_refused_before_it_is_resolved(url, sentence):
    for check in (lambda: check_url(url), lambda: callback_target(url, settings())):
        with pytest.raises(InvalidOption) as caught:
            check()
        assert caught.value.message.startswith(sentence)
