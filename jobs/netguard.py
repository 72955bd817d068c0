"""SSRF guard for webhook targets: only public addresses, unless a setting allows more.

Checked when the job is created (literal addresses, local names, and what the name
resolves to then) and again at delivery, against the addresses actually connected to,
so a name that later resolves to a private address (DNS rebinding) is still refused."""

from __future__ import annotations

import ipaddress
import socket

from django.conf import settings

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """The target is private, loopback, link-local or otherwise not public (also when
    hidden in an IPv6 form: NAT64, 6to4, Teredo, IPv4-compatible or -translated)."""


# IPv6 forms that carry an IPv4 address a packet may end up at (RFC 6052, 3056, 4291,
# 2765). Python's ipaddress calls some of them global even when the IPv4 inside is
# private (64:ff9b::a00:1 is NAT64 for 10.0.0.1), so the IPv4 inside is what is checked.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: operator-chosen IPv4s
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated, e.g. ::10.0.0.1
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # RFC 2765 (SIIT)


def _hidden_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64 or 6to4 address leads to, if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def _is_public(ip: IpAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        if (
            ip in _IPV4_COMPATIBLE
            or ip in _IPV4_TRANSLATED
            or ip in _NAT64_LOCAL
            or ip.teredo is not None
            or ip.is_site_local
        ):
            return False  # deprecated, local or tunnelled forms: never a webhook target
        hidden = _hidden_ipv4(ip)
        if hidden is not None:
            return _is_public(hidden)
    return ip.is_global and not ip.is_multicast


def private_allowed() -> bool:
    return bool(settings.PCF_WEBHOOK_ALLOW_PRIVATE)


def check_address(ip: IpAddress) -> None:
    if not private_allowed() and not _is_public(ip):
        raise TargetRefused(f"{ip} is not a public address")


def literal_address(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address `host` resolves to (raises OSError when it does not resolve)."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def check_host_at_creation(host: str, port: int) -> None:
    """Refuse a target known to be non-public now; a name that does not resolve yet is
    accepted (its deliveries will fail and be recorded)."""
    if private_allowed():
        return
    lowered = host.lower().rstrip(".")
    if lowered == "localhost" or lowered.endswith(".localhost"):
        raise TargetRefused(f"{host} is a loopback name")
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        return
    for ip in addresses:
        check_address(ip)


def pick_delivery_address(host: str, port: int) -> IpAddress:
    """Resolve `host` and return the address to connect to, once all resolved addresses
    passed the check (raises TargetRefused, or OSError when it does not resolve)."""
    addresses = resolve(host, port)
    for ip in addresses:
        check_address(ip)
    return addresses[0]
