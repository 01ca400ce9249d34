"""Fetching a document from a client's URL without letting the client reach inside our network.

Every address the host resolves to must be public (unless ``LECTOR_URL_ALLOW_PRIVATE``), and
the connection goes to the address that was checked, with the name kept for the Host header
and TLS: a DNS answer that changes between check and connect gains nothing. Redirects are
followed by hand, at most three, each hop checked the same way. One deadline covers the whole
download, so a server that drips bytes cannot stretch it, and the size is counted on the
bytes received.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

import anyio
import httpx

from service.errors import DocumentTooLarge, UrlError
from service.settings import Settings

DEADLINE_S = 30
MAX_REDIRECTS = 3

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Cloud metadata services, named even though the ranges below already cover them.
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
}
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def is_public(address: IPAddress) -> bool:
    """True for a globally routable unicast address, looking inside IPv6 forms of IPv4 ones."""
    if address in METADATA_ADDRESSES:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if any(address in network for network in _NAT64):
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None:
            return is_public(address.sixtofour)
        if address.teredo is not None:
            return False
    return address.is_global and not address.is_multicast


AddressPolicy = Callable[[IPAddress], bool]


def allow_any(_address: IPAddress) -> bool:
    """The policy under LECTOR_URL_ALLOW_PRIVATE (tests and trusted networks only)."""
    return True


async def resolve(host: str, port: int, *, allowed: AddressPolicy) -> str:
    """The address to connect to for ``host``: every address it resolves to must be allowed."""
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise UrlError(f"Error accessing URL: cannot resolve {host}") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise UrlError(f"Error accessing URL: cannot resolve {host}")
    if not all(allowed(address) for address in addresses):
        raise UrlError(f"URL not allowed: {host} resolves to a non-public address")
    return str(addresses[0])


async def fetch_document(url: str, settings: Settings, *, allowed: AddressPolicy | None = None) -> bytes:
    """Download ``url`` into memory, or raise UrlError (400) or DocumentTooLarge (413).

    ``allowed`` decides which resolved addresses may be reached; by default public ones only,
    or any under ``LECTOR_URL_ALLOW_PRIVATE``.
    """
    policy = allowed or (allow_any if settings.url_allow_private else is_public)
    try:
        with anyio.fail_after(DEADLINE_S):
            return await _download(url, settings, policy)
    except TimeoutError:
        raise UrlError(f"URL download timeout ({DEADLINE_S * 1000}ms)") from None


async def _download(url: str, settings: Settings, allowed: AddressPolicy) -> bytes:
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=DEADLINE_S) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            target = _parse(url)
            address = await resolve(target.host, target.port or _default_port(target), allowed=allowed)
            extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
            headers = {"Host": target.netloc.decode("ascii"), "User-Agent": "Lector"}
            try:
                async with client.stream(
                    "GET", target.copy_with(host=address), headers=headers, extensions=extensions
                ) as response:
                    if response.is_redirect:
                        location = response.headers.get("location")
                        if not location:
                            raise UrlError("Error accessing URL: a redirect without a Location")
                        url = str(target.join(location))
                        continue
                    if not response.is_success:
                        raise UrlError(
                            f"Error accessing URL: {response.status_code} {response.reason_phrase}"
                        )
                    return await _read_capped(response, settings.max_upload_bytes, settings.max_upload_mb)
            except httpx.HTTPError as exc:
                raise UrlError(f"Error accessing URL: {failure_reason(exc)}") from None
        raise UrlError(f"Error accessing URL: more than {MAX_REDIRECTS} redirects")


def _parse(url: str) -> httpx.URL:
    try:
        target = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise UrlError("URL not allowed: it is not a valid URL") from None
    if target.scheme not in ("http", "https"):
        raise UrlError("URL not allowed: only http and https URLs are fetched")
    if not target.host:
        raise UrlError("URL not allowed: it has no host")
    return target


def _default_port(target: httpx.URL) -> int:
    return 443 if target.scheme == "https" else 80


async def _read_capped(response: httpx.Response, max_bytes: int, max_mb: int) -> bytes:
    too_large = DocumentTooLarge(f"File exceeds maximum allowed size ({max_mb}MB)")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks, received = [], 0
    async for chunk in response.aiter_bytes():
        received += len(chunk)
        if received > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def failure_reason(exc: httpx.HTTPError) -> str:
    """What went wrong with an HTTP exchange, for a person (no URL, no detail from the peer)."""
    if isinstance(exc, httpx.TimeoutException):
        return "the server did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect to the server"
    return "the connection failed"
