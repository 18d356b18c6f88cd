"""Outbound requests that cannot reach inside: the guard on every URL the panel calls.

The panel calls addresses that someone else chose: providers' API URLs and
customers' webhook URLs.  Unguarded, either could point the worker at the
panel's own host, its network or a cloud metadata service (server-side request
forgery).  Unless the owner sets SMMPANEL_ALLOW_PRIVATE_URLS=1:

- `check_url`, when a URL is set, refuses anything but http(s) to public
  addresses: a user name or password in the URL; a loopback, private,
  link-local, multicast, reserved or unspecified address however it is spelled
  (IPv4 in decimal, hex or octal; IPv4 inside IPv6: mapped, compatible, 6to4,
  Teredo, NAT64); a name that is local by definition (``localhost``,
  ``*.internal``, a single label...); a name that resolves to any such address.
- `GuardedBackend`, the network layer under every outbound connection,
  resolves the name once, checks every address, and connects to a checked
  address: a name that resolves elsewhere a second later (DNS rebinding)
  changes nothing.  TLS, the Host header and the connection pool stay
  httpx's, keyed on the URL's host name, so certificates are verified against
  that name and not against the address.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from ipaddress import IPv4Address, IPv6Address
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from smmpanel.config import Settings, current_settings
from smmpanel.errors import DomainError

Address = IPv4Address | IPv6Address
# (host, port) -> the addresses the name resolves to, as strings, in order.
Resolver = Callable[[str, int], list[str]]

ALLOW_HINT = "SMMPANEL_ALLOW_PRIVATE_URLS=1 allows it"
SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

# Names that are local by definition: localhost (RFC 6761), mDNS (RFC 6762),
# home networks (RFC 8375) and ICANN's private-use ".internal", where cloud
# metadata services are named (metadata.google.internal).
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".localdomain")
# What inet_aton reads as an IPv4 address: 2130706433, 0x7f000001, 0177.0.0.1, 127.1.
_INET_ATON_FORM = re.compile(r"[0-9a-fA-FxX.]+")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UrlRefused(DomainError):
    """An outbound URL the panel will not call; the message says why."""


# --- addresses ---------------------------------------------------------------------


def parse_ip_literal(host: str) -> Address | None:
    """`host` as an IP address when it is one in any spelling a resolver reads
    as one: IPv6 (with brackets or a zone), dotted quad, or inet_aton's forms."""
    text = host.strip().strip("[]").rstrip(".").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if _INET_ATON_FORM.fullmatch(text):
        try:
            return IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def forbidden_reason(address: Address) -> str | None:
    """Why the panel must not connect to `address`, or None for a public one."""
    if isinstance(address, IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None and (why := forbidden_reason(inner)) is not None:
            return f"{why} ({inner}) inside an IPv6 address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if isinstance(address, IPv6Address) and address.is_site_local:
        return "a site-local address"
    if not address.is_global:
        return "not a public address"
    return None


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address carries (and may be routed to), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client, where the traffic ends up
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # IPv4-compatible ::a.b.c.d
        return IPv4Address(int(address))
    return None


def local_name_reason(name: str) -> str | None:
    """Why a host name is local by definition, or None."""
    text = name.lower().rstrip(".")
    if text in _LOCAL_NAMES or text.endswith(_LOCAL_SUFFIXES):
        return "a local host name"
    if "." not in text:
        return "a single-label host name (resolved inside the local network)"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """The system resolver's addresses for host:port, in its order, each once."""
    found: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if address not in found:
            found.append(address)
    return found


# --- the policy -----------------------------------------------------------------------


@dataclass(frozen=True)
class OutboundPolicy:
    """Where the panel may connect.  `resolve` is the system resolver; tests
    give another one to play a DNS server that changes its answers."""

    allow_private: bool = False
    resolve: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        return cls(allow_private=settings.allow_private_urls)

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for host:port, every one of them checked.
        Raises UrlRefused for a refused host and OSError when it cannot be resolved."""
        literal = parse_ip_literal(host)
        if literal is not None:
            self._check(host, literal)
            return [str(literal)]
        if not self.allow_private and (why := local_name_reason(host)) is not None:
            raise UrlRefused(f"{host} is {why}; {ALLOW_HINT}")
        addresses = self.resolve(host, port)
        if not addresses:
            raise OSError(f"{host} has no address")
        for text in addresses:
            self._check(host, ipaddress.ip_address(text.split("%", 1)[0]))
        return addresses

    def _check(self, host: str, address: Address) -> None:
        if self.allow_private:
            return
        why = forbidden_reason(address)
        if why is None:
            return
        shown = host.strip("[]")
        where = shown if shown == str(address) else f"{shown} ({address})"
        raise UrlRefused(f"{where} is {why}; {ALLOW_HINT}")


def current_policy() -> OutboundPolicy:
    """The policy of the current settings (SMMPANEL_ALLOW_PRIVATE_URLS)."""
    return OutboundPolicy.from_settings(current_settings())


# --- URLs, when they are set ---------------------------------------------------------------


def check_url(url: str, policy: OutboundPolicy) -> httpx.URL:
    """`url` parsed, when the panel may call it; else UrlRefused saying why.
    The host is resolved (unless private addresses are allowed): a URL whose
    name does not resolve is refused, as it cannot be checked."""
    parsed = check_url_form(url)
    if not policy.allow_private:
        host = parsed.raw_host.decode("ascii")
        try:
            policy.addresses(host, port_of(parsed))
        except OSError as exc:
            raise UrlRefused(f"cannot resolve {host}: {_os_error(exc)}") from None
    return parsed


def check_url_form(url: str) -> httpx.URL:
    """`url` parsed when it is an http(s) URL with a host and without a user
    name or password (which httpx would send); else UrlRefused."""
    try:
        parsed = httpx.URL(url)
        netloc = urlsplit(url).netloc
    except (httpx.InvalidURL, ValueError) as exc:
        raise UrlRefused(f"not a valid URL: {exc}") from None
    if parsed.scheme not in SCHEMES:
        raise UrlRefused("it must start with http:// or https://")
    if parsed.userinfo or "@" in netloc:
        raise UrlRefused("it must not contain a user name or password")
    if not parsed.host:
        raise UrlRefused("it has no host")
    return parsed


def port_of(url: httpx.URL) -> int:
    return url.port or DEFAULT_PORTS.get(url.scheme, 80)


def origin(url: str | httpx.URL) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, the port filled in."""
    parsed = httpx.URL(url) if isinstance(url, str) else url
    return parsed.scheme, parsed.host.lower().rstrip("."), port_of(parsed)


def same_origin(first: str, second: str) -> bool:
    """True when both URLs are on the same scheme, host and port."""
    try:
        return origin(first) == origin(second)
    except httpx.InvalidURL:
        return False


def _os_error(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


# --- connections ------------------------------------------------------------------------


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network layer, connecting only to addresses the policy allows:
    the name is resolved once, every address checked, and a checked address is
    what the socket connects to."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._tcp = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self._policy.addresses(host, port)
        except UrlRefused as exc:
            # A connection error: nothing was sent, as for an unreachable host.
            raise httpcore.ConnectError(f"refused: {exc}") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {_os_error(exc)}") from None
        failure: Exception | None = None
        for address in addresses:
            try:
                return self._tcp.connect_tcp(
                    address, port, timeout, local_address, socket_options or ()
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("the panel does not call Unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport over `GuardedBackend`.  httpx takes no network
    backend, so its connection pool is replaced by an identical one that has
    it; should a new httpx keep its pool elsewhere, this fails at once rather
    than connect unguarded."""

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits | None = None,
    ) -> None:
        context = verify if isinstance(verify, ssl.SSLContext) else _ssl_context(verify)
        limits = limits or httpx.Limits(max_connections=10, max_keepalive_connections=5)
        super().__init__(verify=context, limits=limits, trust_env=False)
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            raise RuntimeError("this httpx keeps its connection pool elsewhere: update netguard")
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy),
        )


@cache
def _ssl_context(verify: bool) -> ssl.SSLContext:
    """httpx's verifying context, built once: loading the CA bundle takes ~40 ms."""
    return httpx.create_ssl_context(verify=verify)


def guarded_client(
    policy: OutboundPolicy | None = None,
    *,
    timeout: float,
    verify: ssl.SSLContext | bool = True,
) -> httpx.Client:
    """An httpx client whose every connection goes through the guard; it does
    not follow redirects (a redirect is another URL nobody checked)."""
    transport = GuardedTransport(policy or current_policy(), verify=verify)
    return httpx.Client(
        transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
    )
