"""Which hosts the platform fetches job sources from on a tenant's behalf (git remotes, ADD URLs).

    host = resolve_public_host("https://github.com/me/jobs", allowed=settings.allowed_internal_hosts)

A tenant names the URL, and the platform connects from inside the operator's network: a remote on
a loopback, private, link-local (cloud metadata), shared or reserved address would let tenants
reach services that trust that network. Such remotes are refused unless the operator lists the
host name or its network in the setting `allowed_internal_hosts` (an internal git server).

The name is resolved with the system resolver, as git's libcurl does, and every address must pass;
the caller then pins the connection to those addresses (git: `http.curloptResolve`), so a second
lookup cannot answer differently (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["ResolvedHost", "RemoteRefused", "resolve_public_host"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class RemoteRefused(Exception):
    """The URL's host is not one the platform may fetch from; `reason` is for the operator's log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ResolvedHost:
    host: str  # as written in the URL (an IPv6 literal without brackets)
    port: int
    addresses: tuple[str, ...]
    literal: bool  # the host is an IP address: nothing to pin


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4), which is where it really goes."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour:
            return address.sixtofour
    return address


def _internal(address: IPAddress) -> bool:
    real = _embedded_ipv4(address)
    return not real.is_global or real.is_multicast or real.is_unspecified or real.is_reserved


def _listed(host: str, addresses: Sequence[IPAddress], allowed: Sequence[str]) -> bool:
    """True when the operator allows this host name, or the networks of all its addresses."""
    names = {entry.strip().lower() for entry in allowed if entry.strip()}
    if host.lower() in names:
        return True
    networks = []
    for entry in names:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue
    return all(any(address in network for network in networks) for address in addresses)


def resolve_public_host(url: str, *, allowed: Sequence[str] = ()) -> ResolvedHost:
    """The URL's host and addresses, or RemoteRefused when one address is internal and not allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise RemoteRefused(f"scheme {parts.scheme!r} is not http or https")
    host = parts.hostname
    if not host:
        raise RemoteRefused("the URL names no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise RemoteRefused("the URL's port is not a number") from None
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise RemoteRefused(f"{host} does not resolve: {exc}") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(str(item[4][0]).split("%")[0]) for item in found))
    if not addresses:
        raise RemoteRefused(f"{host} has no address")
    internal = [address for address in addresses if _internal(address)]
    if internal and not _listed(host, addresses, allowed):
        shown = ", ".join(str(address) for address in internal)
        raise RemoteRefused(f"{host} is on an internal address ({shown}) not in allowed_internal_hosts")
    return ResolvedHost(
        host=host, port=port, addresses=tuple(str(a) for a in addresses), literal=literal is not None
    )
