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


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"))
    )


async def check_destination(url: str, settings: Settings) -> None:
    """Refuse URLs whose host resolves to a private, loopback or link-local address."""
    host, port = check_url_shape(url)
    if settings.webhook_allow_private_networks:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise DestinationRefused(f"The host {host!r} does not resolve: {exc}.", field="url") from None
    addresses = {str(info[4][0]) for info in infos}
    blocked = sorted(address for address in addresses if not _is_public(address))
    if blocked:
        raise DestinationRefused(
            f"The host {host!r} resolves to a private or loopback address ({', '.join(blocked)}); "
            "SeqTrack does not call internal networks.",
            field="url",
        )


class OutboundClient:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.http_timeout_seconds),
            follow_redirects=False,
            headers={"User-Agent": "SeqTrack-Webhooks/1"},
        )

    async def post(self, url: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
        await check_destination(url, self.settings)
        return await self._client.post(url, content=content, headers=headers)

    async def aclose(self) -> None:
        await self._client.aclose()
