"""Outbound HTTP for the providers that speak it: every request, and every redirect hop, goes to a public host.

guard_host (base.py) checks a host a provider is configured with. HTTP clients also follow redirects a
server chooses, and resolve names themselves, so they get the check built in:
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

from feeds.warehouses.base import WarehouseError, address_allowed, guard_host


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
