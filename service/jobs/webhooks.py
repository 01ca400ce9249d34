"""Webhooks: a conversion's or a batch's end, delivered to its ``callback_url`` by the workers.

Deliveries follow the Standard Webhooks specification (standardwebhooks.com): a JSON body
``{"type": event, "timestamp": ..., "data": status document}`` with the headers
``webhook-id`` (the same for every attempt), ``webhook-timestamp`` and
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, keyed by the key's
``whsec_`` secret. Each key has one secret, shown once when made and rotatable, and may
have a default callback URL (``service.api.webhooks``).

Never inside a request: where a conversion or a batch ends, ``announce`` stores the message
and queues a delivery job. An attempt that gets a 2xx ends the delivery, a 410 stops it, any
other answer (or none) schedules the next attempt after the next of
``LECTOR_WEBHOOK_RETRY_DELAYS_S`` (±10 % jitter), until they are spent. The target must
resolve to public addresses, or to ones ``LECTOR_WEBHOOK_ALLOW`` names (hosts and CIDR ranges
that only callbacks may reach), at every attempt (any address under
``LECTOR_URL_ALLOW_PRIVATE``), and the connection goes to the address checked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import random
import re
import secrets
import socket
import time
from datetime import timedelta
from typing import Any

import httpx
import msgspec
from redis import Redis
from rq import Queue, get_current_job

from service.downloads import METADATA_ADDRESSES, IPAddress, is_public
from service.errors import InvalidOption
from service.jobs import runtime
from service.jobs.record import now_iso
from service.jobs.routing import QUEUE_NAME
from service.logging import get_logger
from service.metrics import JobSummary
from service.models import WebhookEvent, WebhookState
from service.settings import Settings

ATTEMPT_TIMEOUT_S = 10
MAX_URL_LENGTH = 2048
SECRET_PREFIX = "whsec_"
DELIVER = "service.jobs.webhooks.deliver"
#: Each owner's webhook settings: a hash of its secret, when it was made, and its default URL.
CONFIG_PREFIX = "lector:webhooks:"
_MESSAGE = "lector:webhook-message:"
_STATE = "lector:webhook-state:"

log = get_logger("lector.webhooks")


class Message(msgspec.Struct):
    """A delivery waiting to happen: where, for whom, what (the body is signed as stored)."""

    message_id: str
    owner: str
    url: str
    subject: str  # the conversion or batch id, whose status shows the state
    body: bytes


class WebhookConfig:
    """Each key's secret and default callback URL, in Redis."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    def secret(self, owner: str) -> str | None:
        """The key's signing secret, or None when it has made none."""
        value = self._redis.hget(CONFIG_PREFIX + owner, "secret")
        return _text(value)

    def rotate(self, owner: str) -> str:
        """Make a new secret (replacing any), and return it: the only time it is shown."""
        secret = SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
        self._redis.hset(CONFIG_PREFIX + owner, mapping={"secret": secret, "created_at": now_iso()})
        return secret

    def settings_of(self, owner: str) -> dict[str, str]:
        """The default URL and when the secret was made (never the secret)."""
        url, created = self._redis.hmget(CONFIG_PREFIX + owner, ["url", "created_at"])
        shown = {"default_url": _text(url), "secret_created_at": _text(created)}
        return {name: value for name, value in shown.items() if value}

    def default_url(self, owner: str) -> str | None:
        """The key's default callback URL, or None."""
        value = self._redis.hget(CONFIG_PREFIX + owner, "url")
        return _text(value)

    def set_default_url(self, owner: str, url: str | None) -> None:
        """Set (or with None, remove) the key's default callback URL."""
        if url is None:
            self._redis.hdel(CONFIG_PREFIX + owner, "url")
        else:
            self._redis.hset(CONFIG_PREFIX + owner, "url", url)


def _text(value: Any) -> str | None:
    """A Redis reply as text (None for a missing field)."""
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def check_url(url: object, settings: Settings | None = None) -> str:
    """``url`` if it may receive callbacks (``callback_target``; without ``settings``, its
    shape only); InvalidOption otherwise."""
    if settings is None:
        parse_url(url)
    else:
        callback_target(url, settings)
    assert isinstance(url, str)  # parse_url refuses anything else
    return url


def callback_target(url: object, settings: Settings) -> tuple[httpx.URL, str]:
    """Where a callback to ``url`` goes: the URL and the address to connect to, or
    InvalidOption. The one check of a callback URL, made when it is given (a submission, a
    key's default) and again before every delivery attempt, so nothing is accepted that a
    delivery would refuse."""
    target = parse_url(url)
    return target, public_address(target, settings)


#: Characters that parsers read differently (a backslash is a slash to WHATWG parsers and
#: part of the user name to httpx), or that no URL sent as is holds.
_AMBIGUOUS = re.compile(r"[\\\s\x00-\x1f\x7f]")
_HOST = re.compile(r"^[A-Za-z0-9.-]+$")


def parse_url(url: object) -> httpx.URL:
    """``url`` as a callback target, if every HTTP client reads it alike: http(s), at most
    2048 characters, a host name or address, a valid port, no user name or password (which
    can hide the real host from a reader), no spaces, backslashes or control characters;
    InvalidOption otherwise."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise InvalidOption(f"callback_url must be a URL of at most {MAX_URL_LENGTH} characters.")
    if _AMBIGUOUS.search(url):
        raise InvalidOption("callback_url must not contain spaces, backslashes or control characters.")
    try:
        target = httpx.URL(url)
        port = target.port
    except (httpx.InvalidURL, ValueError):
        raise InvalidOption("callback_url is not a valid URL.") from None
    if target.scheme not in ("http", "https") or not target.host:
        raise InvalidOption("callback_url must be an http or https URL with a host.")
    if target.userinfo or "@" in url.split("//", 1)[-1].split("/", 1)[0]:
        raise InvalidOption("callback_url must not contain a user name or password.")
    if port is not None and not 0 < port < 65536:
        raise InvalidOption("callback_url has a port outside 1-65535.")
    if not (_HOST.match(target.host) or _is_address(target.host)):
        raise InvalidOption("callback_url's host is not a host name or an IP address.")
    return target


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def public_address(target: httpx.URL, settings: Settings) -> str:
    """The address to connect to for ``target``; InvalidOption when any it resolves to is
    neither public nor allowed by LECTOR_WEBHOOK_ALLOW (unless LECTOR_URL_ALLOW_PRIVATE)."""
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(target.host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise InvalidOption(f"callback_url: cannot resolve {target.host}.") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    allowed = settings.url_allow_private or all(_may_call(target.host, a, settings) for a in addresses)
    if not addresses or not allowed:
        raise InvalidOption(f"callback_url not allowed: {target.host} resolves to a non-public address.")
    return str(addresses[0])


def _may_call(host: str, address: IPAddress, settings: Settings) -> bool:
    """Whether a callback may connect to ``address`` (which ``host`` resolved to): a public one,
    or one LECTOR_WEBHOOK_ALLOW names by the host or a range; never a cloud metadata service."""
    if is_public(address):
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return False
    hosts, networks = settings.webhook_allowed
    return host.lower().rstrip(".") in hosts or any(address in network for network in networks)


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one attempt."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def state_of(redis: Redis, subject: str) -> WebhookState | None:
    """The delivery state shown on a conversion's or a batch's status, or None."""
    raw = redis.get(_STATE + subject)
    return msgspec.json.decode(raw, type=WebhookState) if raw else None


def announce(
    redis: Redis, settings: Settings, *, owner: str, url: str, subject: str, event: WebhookEvent, data: Any
) -> None:
    """Store the event's message and queue its first delivery."""
    message_id = "msg_" + secrets.token_hex(12)
    body = msgspec.json.encode({"type": event, "timestamp": now_iso(), "data": data})
    message = Message(message_id=message_id, owner=owner, url=url, subject=subject, body=body)
    ttl = settings.result_ttl_s
    with redis.pipeline() as pipe:
        pipe.set(_MESSAGE + message_id, msgspec.json.encode(message), ex=ttl)
        pipe.set(_STATE + subject, msgspec.json.encode(WebhookState(state="pending")), ex=ttl)
        pipe.execute()
    _queue(redis).enqueue_call(DELIVER, args=(message_id,), timeout=60, result_ttl=600, failure_ttl=ttl)


def _queue(redis: Redis) -> Queue:
    return Queue(QUEUE_NAME, connection=redis)


def deliver(message_id: str) -> dict[str, Any]:
    """The RQ job: one attempt; schedules the next when it fails and retries remain."""
    settings = runtime.settings()
    job = get_current_job()
    assert job is not None, "deliver runs inside an RQ job"
    redis: Redis = job.connection
    raw = redis.get(_MESSAGE + message_id)
    if raw is None:
        return JobSummary(kind="webhook", status="expired").as_data()
    message = msgspec.json.decode(raw, type=Message)
    state = state_of(redis, message.subject) or WebhookState(state="pending")
    state.attempts += 1
    secret = WebhookConfig(redis).secret(message.owner)
    where: tuple[httpx.URL, str] | None = None
    try:
        # Checked again at every attempt: the name may resolve elsewhere by now.
        where = callback_target(message.url, settings)
    except InvalidOption as exc:
        log.warning("webhook target refused", reason=exc.message)
    if secret is None or where is None:  # nothing to sign with, or nowhere allowed to go
        state.state = "failed"
    else:
        target, address = where
        state.last_status = _attempt(message, target, address, secret)
        if state.last_status is not None and 200 <= state.last_status < 300:
            state.state, state.delivered_at = "delivered", now_iso()
        elif state.last_status == 410:
            state.state = "stopped"
        elif state.attempts <= len(settings.webhook_retry_delays_s):
            state.state = "retrying"
            delay = settings.webhook_retry_delays_s[state.attempts - 1] * random.uniform(0.9, 1.1)
            _queue(redis).enqueue_in(
                timedelta(seconds=delay), DELIVER, message_id, job_timeout=60, result_ttl=600
            )
        else:
            state.state = "failed"
    redis.set(_STATE + message.subject, msgspec.json.encode(state), ex=settings.result_ttl_s)
    log.info("webhook attempt", state=state.state, attempts=state.attempts, status=state.last_status)
    return JobSummary(kind="webhook", status=state.state).as_data()


def _attempt(message: Message, target: httpx.URL, address: str, secret: str) -> int | None:
    """POST the message once to ``address``; the receiver's status, or None when it could
    not be reached."""
    timestamp = int(time.time())
    headers = {
        "Host": target.netloc.decode("ascii"),
        "User-Agent": "Lector",
        "Content-Type": "application/json",
        "webhook-id": message.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message.message_id, timestamp, message.body),
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        with httpx.Client(follow_redirects=False, trust_env=False, timeout=ATTEMPT_TIMEOUT_S) as client:
            answer = client.post(
                target.copy_with(host=address), content=message.body, headers=headers, extensions=extensions
            )
    except httpx.HTTPError:
        return None
    return answer.status_code
