"""The SSRF guard (core/outbound.py): which addresses are refused, and the connection made
to the very address that was checked, with the URL's host kept in the Host header."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import httpx
import pytest

from saas_server.core.outbound import UnsafeURL, post_pinned, refusal, resolve
from tests.fixtures.webhook_receiver import running_receiver


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.251",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",  # AWS metadata over IPv6
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo of 127.0.0.1 (inverted)
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


async def test_a_name_resolving_to_loopback_is_refused_unless_allowed() -> None:
    with pytest.raises(UnsafeURL, match="loopback"):
        await resolve("http://localhost:8080/hook", allow_private=False)
    target = await resolve("http://localhost:8080/hook", allow_private=True)
    assert target.address.is_loopback
    assert target.host == "localhost" and target.port == 8080


async def test_the_request_goes_to_the_checked_address_with_the_urls_host() -> None:
    with running_receiver() as receiver:
        port = urlsplit(receiver.url).port
        target = await resolve(f"http://localhost:{port}/hooks?x=1", allow_private=True)
        # Pinned to an IPv4 loopback (where the receiver listens), whatever else "localhost" says.
        target = type(target)(
            url=target.url,
            scheme=target.scheme,
            host=target.host,
            port=target.port,
            address=ipaddress.ip_address("127.0.0.1"),
        )
        async with httpx.AsyncClient(trust_env=False) as client:
            response = await post_pinned(
                client, target, content=b"{}", headers={"x-probe": "1"}, timeout_seconds=5
            )
        assert response.status_code == 200
        [received] = receiver.received
        assert received.headers["host"] == f"localhost:{port}"
        assert received.path == "/hooks?x=1"
        assert received.headers["x-probe"] == "1"


async def test_redirects_are_not_followed() -> None:
    with running_receiver(default_status=302) as receiver:
        target = await resolve(receiver.url, allow_private=True)
        async with httpx.AsyncClient(trust_env=False) as client:
            response = await post_pinned(
                client, target, content=b"{}", headers={}, timeout_seconds=5
            )
        assert response.status_code == 302
        assert len(receiver.received) == 1
