"""Where a webhook may be delivered: the shapes refused, and LECTOR_WEBHOOK_ALLOW's hosts and ranges."""

from __future__ import annotations

import pytest

from service.errors import InvalidOption
from service.jobs.webhooks import callback_target, check_url
from service.settings import load_settings


def settings(allow: str = ""):
    return load_settings({"LECTOR_WEBHOOK_ALLOW": allow} if allow else {})


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
    for check in (lambda: check_url(url), lambda: callback_target(url, settings("127.0.0.0/8"))):
        with pytest.raises(InvalidOption) as caught:
            check()
        assert caught.value.message.startswith(sentence)


@pytest.mark.parametrize(
    ("allow", "url", "allowed"),
    [
        ("", "http://127.0.0.1:9/hook", False),
        ("127.0.0.0/8", "http://127.0.0.1:9/hook", True),
        ("127.0.0.1", "http://127.0.0.1:9/hook", True),
        ("127.0.0.1", "http://127.0.0.2:9/hook", False),
        ("127.0.0.0/8", "http://10.0.0.1/hook", False),
        ("LocalHost.", "http://localhost:9/hook", True),
        ("hooks.internal", "http://localhost:9/hook", False),
        ("169.254.0.0/16", "http://169.254.169.254/", False),  # a metadata service, never
        ("169.254.0.0/16", "http://169.254.1.1/", True),
        ("::1", "http://[::1]:9/", True),
    ],
)
def test_the_allow_list_names_hosts_and_ranges(allow, url, allowed):
    if allowed:
        _target, address = callback_target(url, settings(allow))
        assert address
    else:
        with pytest.raises(InvalidOption, match="non-public address"):
            callback_target(url, settings(allow))
