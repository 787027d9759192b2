"""The one HTTP client for outbound calls: timeouts always, no redirects, no private networks.

A tenant names the URL a webhook calls, so without a guard the server could be
made to call its own database port or a cloud metadata service (SSRF). Every
address the host resolves to must be public unless
``SEQTRACK_WEBHOOK_ALLOW_PRIVATE_NETWORKS`` allows private ones (the tests do,
for their local receiver).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

from seqtrack.integrations.errors import DestinationRefused
from seqtrack.settings import Settings


def check_url_shape(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise DestinationRefused("Webhook URLs must use http or https.", field="url")
    if not parts.hostname:
        raise DestinationRefused("The webhook URL has no host.", field="url")
    if parts.username or parts.password:
        raise DestinationRefused("Put credentials in the signature secret, not in the URL.", field="url")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


# The IPv6 forms that carry an IPv4 address a router unwraps: IPv4-mapped, 6to4 (2002::/16),
# Teredo (2001::/32, client address stored inverted) and NAT64 (64:ff9b::/96).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    embedded: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        embedded.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        embedded.append(ip.sixtofour)
    if ip.teredo is not None:
        embedded.extend(ip.teredo)
    if ip in _NAT64:
        embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return embedded


def _is_public_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED)
    )


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded:
            return all(_is_public_ip(inner) for inner in embedded)
    return _is_public_ip(ip)


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` names, in the resolver's order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def check_destination(url: str, settings: Settings) -> None:
    """Refuse URLs whose host resolves to a private, loopback or link-local address."""
    check_url_shape(url)
    if not settings.webhook_allow_private_networks:
        await destination_address(url, settings)


async def destination_address(url: str, settings: Settings) -> str:
    """The one address a call to ``url`` connects to, refused unless public (or private ones are allowed).

    The caller connects to exactly this address: resolving the name again could
    answer differently (DNS rebinding) after the check has passed.
    """
    host, port = check_url_shape(url)
    try:
        addresses = await resolve(host, port)
    except OSError as exc:
        raise DestinationRefused(f"The host {host!r} does not resolve: {exc}.", field="url") from None
    if not addresses:
        raise DestinationRefused(f"The host {host!r} does not resolve.", field="url")
    blocked = [address for address in addresses if not is_public(address)]
    if blocked and not settings.webhook_allow_private_networks:
        raise DestinationRefused(
            f"The host {host!r} resolves to a private or loopback address ({', '.join(sorted(blocked))}); "
            "SeqTrack does not call internal networks.",
            field="url",
        )
    return addresses[0]


class OutboundClient:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.http_timeout_seconds),
            follow_redirects=False,
            headers={"User-Agent": "SeqTrack-Webhooks/1"},
        )

    async def post(self, url: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
        address = await destination_address(url, self.settings)
        target = httpx.URL(url)
        pinned = target.copy_with(host=address)
        # The request goes to the checked address; the receiver still sees its own name
        # in Host, and TLS checks the certificate against that name (SNI).
        return await self._client.post(
            pinned,
            content=content,
            headers={**headers, "Host": target.netloc.decode("ascii")},
            extensions={"sni_hostname": target.host},
        )

    async def aclose(self) -> None:
        await self._client.aclose()
