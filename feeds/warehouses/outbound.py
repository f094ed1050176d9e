"""Outbound connections go to public hosts only: the address guard, and HTTP with every redirect hop checked.

`guard_host` checks a host a provider, an output or a webhook is configured with, and `guard_peer` the
address a driver that resolves names itself connected to; both refuse what `address_allowed` refuses.
HTTP clients also follow redirects a server chooses, and resolve names themselves, so they get the check
built in:
- `GuardedAdapter`, a requests transport adapter: requests sends each redirect hop through the adapter,
  so each hop's host is checked before anything is sent to it (Delta Sharing's REST client, BigQuery).
- `guarded_client_session`, an aiohttp session whose resolver refuses non-public addresses (aiohttp
  connects to exactly the addresses it returns, so the address checked is the address connected to)
  and whose trace hooks check the first URL and every redirect's target (aiohttp does not resolve an IP
  literal, so a literal is checked there). Delta Sharing data files are read with fsspec over it.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from feeds.warehouses.base import WarehouseError


def guard_host(host: str, *, field: str = "host") -> str | None:
    """Resolve `host` once and return the address to connect to; refuse one that is not public.

    Only globally routable unicast addresses pass (an allow-list: carrier-grade NAT 100.64.0.0/10,
    cloud metadata 100.100.100.200 and 169.254.169.254, unique-local and IPv4-mapped private IPv6,
    multicast... are all refused). Every address the name resolves to must pass, and the caller connects
    to the returned one (psycopg `hostaddr`), so a name that resolves differently a moment later (DNS
    rebinding) cannot slip a private address past the check. Raises WarehouseError naming the field;
    settings.WSYNC_ALLOW_PRIVATE_HOSTS lifts the address rule (the tests and the demo set it), and then
    a name that does not resolve returns None for the driver to report.
    """
    from django.conf import settings

    allow_private = getattr(settings, "WSYNC_ALLOW_PRIVATE_HOSTS", False) is True
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        infos = []
    if allow_private and host and not infos:
        return None  # nothing to guard: the driver resolves the name and reports it in its own words
    if not host or not infos:
        raise WarehouseError(
            f"The host “{host}” could not be found. Check the spelling of the host name.",
            permanent=True,
            field=field,
        )
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:
        if not address_allowed(address):
            raise WarehouseError(
                f"The host “{host}” points to a private network address ({address}); wsync "
                "only connects to public warehouse hosts. An administrator can allow private hosts "
                "with WSYNC_ALLOW_PRIVATE_HOSTS.",
                permanent=True,
                field=field,
            )
    return str(addresses[0])


def guard_peer(address: str, host: str, *, field: str = "host") -> None:
    """Refuse a connection a driver made to a non-public address (for drivers that resolve names themselves).

    The caller closes the connection when this raises; nothing but the TLS handshake has happened yet
    for a driver that requires TLS.
    """
    if not address_allowed(ipaddress.ip_address(address.split("%")[0])):
        raise WarehouseError(
            f"The host “{host}” points to a private network address ({address}); wsync only connects to "
            "public warehouse hosts. An administrator can allow private hosts with WSYNC_ALLOW_PRIVATE_HOSTS.",
            permanent=True,
            field=field,
        )


def address_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Return True for a public address, or one WSYNC_ALLOW_PRIVATE_HOSTS allows (all, or listed networks)."""
    from django.conf import settings

    allowed = getattr(settings, "WSYNC_ALLOW_PRIVATE_HOSTS", False)
    if allowed is True or is_public(address):
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(n, strict=False) for n in allowed or ())


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Return True for a globally routable unicast address.

    An IPv6 address that carries an IPv4 one (mapped, NAT64, 6to4, Teredo) is judged by that IPv4 too.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [address.ipv4_mapped, address.sixtofour, address.teredo[1] if address.teredo else None]
        if address in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if any(inner is not None and not is_public(inner) for inner in embedded):
            return False
    return address.is_global and not address.is_multicast


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def check_url(url: str, *, field: str) -> None:
    """Refuse a URL that is not http(s) or whose host is not public (unless private hosts are allowed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WarehouseError(f"wsync will not open the address “{url[:200]}”.", permanent=True, field=field)
    guard_host(parts.hostname, field=field)


def guarded_adapter(field: str, timeout: tuple[float, float] | None = None) -> Any:
    """Return a requests adapter that checks every request's host (redirects included) and sets a timeout."""
    from requests.adapters import HTTPAdapter  # type: ignore[import-untyped,unused-ignore]

    class GuardedAdapter(HTTPAdapter):
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            check_url(request.url, field=field)
            if timeout is not None and kwargs.get("timeout") is None:
                kwargs["timeout"] = timeout
            return super().send(request, *args, **kwargs)

    return GuardedAdapter()


def mount_guard(session: Any, field: str, timeout: tuple[float, float] | None = None) -> Any:
    """Mount the guarded adapter on a requests session for http and https; return the session."""
    adapter = guarded_adapter(field, timeout)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def guarded_client_session(field: str, **kwargs: Any) -> Any:
    """Return an aiohttp ClientSession that reaches only allowed hosts, on every redirect hop too."""
    import aiohttp
    from yarl import URL

    async def on_start(session: Any, context: Any, params: Any) -> None:
        check_url(str(params.url), field=field)

    async def on_redirect(session: Any, context: Any, params: Any) -> None:
        location = params.response.headers.get("Location", "")
        check_url(str(params.url.join(URL(location))), field=field)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    trace.on_request_redirect.append(on_redirect)
    connector = aiohttp.TCPConnector(resolver=guarded_resolver(field))
    return aiohttp.ClientSession(connector=connector, trace_configs=[trace], **kwargs)


def guarded_resolver(field: str) -> Any:
    """Return an aiohttp resolver that refuses names resolving to a non-public address."""
    from aiohttp.resolver import ThreadedResolver

    class GuardedResolver(ThreadedResolver):
        async def resolve(
            self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
        ) -> list[Any]:
            found = await super().resolve(host, port, family)
            for result in found:
                address = ipaddress.ip_address(str(result["host"]).split("%")[0])
                if not address_allowed(address):
                    raise WarehouseError(
                        f"The host “{host}” points to a private network address ({address}); wsync only "
                        "connects to public hosts. An administrator can allow private hosts with "
                        "WSYNC_ALLOW_PRIVATE_HOSTS.",
                        permanent=True,
                        field=field,
                    )
            return list(found)

    return GuardedResolver()
