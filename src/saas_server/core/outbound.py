"""Requests to URLs users give us (webhook endpoints, later integrations): the SSRF guard.

A URL is resolved once; every address it resolves to must be a public one (no loopback,
private, link-local, cloud metadata, multicast, reserved or unspecified address, in IPv4
or IPv6, IPv4-mapped IPv6 included), unless private addresses are allowed explicitly
(``SAAS_WEBHOOKS_ALLOW_PRIVATE``: tests, a private network). The request then connects to
the very address that was checked, with the ``Host`` header and the TLS server name
(SNI, and so the certificate check) of the URL's host: a DNS answer that changes between
the check and the connection (DNS rebinding) cannot redirect it. Redirects are never
followed, since each hop would need the same check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from saas_server.core.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2048


class UnsafeURL(ValidationFailed):
    """The URL cannot be called: malformed, not http(s), unresolvable or not public."""

    def __init__(self, reason: str, *, field: str = "url") -> None:
        super().__init__(reason, details={field: [reason]})
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """A checked URL: the address to connect to, and the name the server knows itself by."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress

    @property
    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address (IPv6 in brackets)."""
        parts = urlsplit(self.url)
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        netloc = f"{host}:{self.port}"
        path = parts.path or "/"
        return f"{self.scheme}://{netloc}{path}" + (f"?{parts.query}" if parts.query else "")

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` may not be called, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return refusal(mapped)
        if address.teredo is not None:
            return refusal(address.teredo[1])
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved (non-public) address"
    return None


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an absolute http(s) URL, or UnsafeURL."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"The URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"The URL is malformed: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UnsafeURL("The URL must start with http:// or https://")
    if not parts.hostname:
        raise UnsafeURL("The URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("The URL may not carry credentials")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


async def resolve(url: str, *, allow_private: bool) -> Target:
    """Check ``url`` and the addresses its host resolves to; the one to connect to."""
    scheme, host, port = split_url(url)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError) as exc:
            raise UnsafeURL(f"The host {host!r} does not resolve") from exc
        addresses = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise UnsafeURL(f"The host {host!r} does not resolve")
    if not allow_private:
        # Every address must pass: a name with one public and one private answer would
        # otherwise let the connection land on the private one.
        for address in addresses:
            reason = refusal(address)
            if reason is not None:
                raise UnsafeURL(f"The URL's host resolves to {reason} ({address})")
    return Target(url=url, scheme=scheme, host=host, port=port, address=addresses[0])


@dataclass(frozen=True)
class OutboundResponse:
    status_code: int
    headers: httpx.Headers
    # The start of the body only: a receiver cannot make us hold a large answer.
    excerpt: bytes


async def post_pinned(
    client: httpx.AsyncClient,
    target: Target,
    *,
    content: bytes,
    headers: dict[str, str],
    timeout_seconds: float,
    max_body: int = 2048,
) -> OutboundResponse:
    """POST ``content`` to the checked address of ``target``, as if to its URL; the whole
    exchange (connect, send, answer) within ``timeout_seconds``."""
    request = client.build_request(
        "POST",
        target.pinned_url,
        content=content,
        headers={**headers, "Host": target.host_header},
        timeout=httpx.Timeout(timeout_seconds),
    )
    if target.scheme == "https":
        request.extensions["sni_hostname"] = target.host
    async with asyncio.timeout(timeout_seconds):
        response = await client.send(request, follow_redirects=False, stream=True)
        try:
            excerpt = bytearray()
            async for chunk in response.aiter_raw():
                excerpt += chunk
                if len(excerpt) >= max_body:
                    break
        finally:
            await response.aclose()
    return OutboundResponse(
        status_code=response.status_code,
        headers=response.headers,
        excerpt=bytes(excerpt[:max_body]),
    )


@dataclass(frozen=True)
class FetchedPage:
    """A GET through the guard: the final URL after the redirects followed, each checked."""

    url: str
    status_code: int
    headers: httpx.Headers
    body: bytes
    truncated: bool
    elapsed_seconds: float
    redirects: tuple[str, ...]


async def get_checked(
    client: httpx.AsyncClient,
    url: str,
    *,
    allow_private: bool,
    timeout_seconds: float,
    max_body: int,
    max_redirects: int = 5,
    headers: dict[str, str] | None = None,
) -> FetchedPage:
    """GET ``url`` through the SSRF guard, following at most ``max_redirects`` redirects, each
    hop resolved and checked again (a redirect to a private address is refused like the URL
    itself). The body is read up to ``max_body`` bytes; the whole exchange, redirects
    included, within ``timeout_seconds``."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    hops: list[str] = []
    async with asyncio.timeout(timeout_seconds):
        while True:
            target = await resolve(url, allow_private=allow_private)
            request = client.build_request(
                "GET",
                target.pinned_url,
                headers={**(headers or {}), "Host": target.host_header},
                timeout=httpx.Timeout(timeout_seconds),
            )
            if target.scheme == "https":
                request.extensions["sni_hostname"] = target.host
            response = await client.send(request, follow_redirects=False, stream=True)
            try:
                location = response.headers.get("location")
                if response.is_redirect and location and len(hops) < max_redirects:
                    hops.append(url)
                    url = str(httpx.URL(url).join(location))
                    continue
                body = bytearray()
                truncated = False
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_body:
                        truncated = True
                        break
            finally:
                await response.aclose()
            return FetchedPage(
                url=url,
                status_code=response.status_code,
                headers=response.headers,
                body=bytes(body[:max_body]),
                truncated=truncated,
                elapsed_seconds=loop.time() - started,
                redirects=tuple(hops),
            )
