"""The outbound guard's rules: every spelling of an address that reaches inside
is refused, public addresses pass, and the owner's switch allows private ones.

No test here connects anywhere: literals need no resolver, and names are
resolved by a stub standing in for DNS.
"""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from smmpanel.netguard import (
    OutboundPolicy,
    UrlRefused,
    check_url,
    forbidden_reason,
    parse_ip_literal,
    same_origin,
    system_resolver,
)

STRICT = OutboundPolicy(allow_private=False)
OPEN = OutboundPolicy(allow_private=True)

# (URL, what the refusal says): the review's list first, then their relatives.
REFUSED = [
    ("http://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
    ("http://[::1]/hook", "::1 is a loopback address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://10.0.0.1/", "10.0.0.1 is a private address"),
    ("http://0x7f000001/", "0x7f000001 (127.0.0.1) is a loopback address"),
    ("http://2130706433/", "2130706433 (127.0.0.1) is a loopback address"),
    ("http://metadata.google.internal/", "metadata.google.internal is a local host name"),
    ("http://user:pass@example.com/", "must not contain a user name or password"),
    ("http://user@example.com/", "must not contain a user name or password"),
    ("http://@example.com/", "must not contain a user name or password"),
    ("http://127.1/", "127.1 (127.0.0.1) is a loopback address"),
    ("http://017700000001/", "(127.0.0.1) is a loopback address"),  # octal, one number
    ("http://0x7f.1/", "0x7f.1 (127.0.0.1) is a loopback address"),
    ("http://127.255.255.254:8080/", "is a loopback address"),
    ("http://0/", "0 (0.0.0.0) is the unspecified address"),
    ("http://0.0.0.0/", "0.0.0.0 is the unspecified address"),
    ("http://[::]/", ":: is the unspecified address"),
    ("http://192.168.1.1/", "is a private address"),
    ("http://172.16.0.1/", "is a private address"),
    ("http://172.31.255.255/", "is a private address"),
    ("http://100.64.0.1/", "100.64.0.1 is not a public address"),  # carrier-grade NAT
    ("http://192.0.2.1/", "is a private address"),  # documentation
    ("http://198.18.0.1/", "is a private address"),  # benchmarking
    ("http://224.0.0.1/", "is a multicast address"),
    ("http://240.0.0.1/", "is a private address"),  # reserved (Python calls it private)
    ("http://255.255.255.255/", "is a private address"),
    ("http://[fc00::1]/", "fc00::1 is a private address"),
    ("http://[fd12:3456::1]/", "is a private address"),
    ("http://[fe80::1]/", "fe80::1 is a link-local address"),
    ("http://[fe80::1%25eth0]/", "is a link-local address"),
    ("http://[fec0::1]/", "fec0::1 is a site-local address"),
    ("http://[ff02::1]/", "ff02::1 is a multicast address"),
    ("http://[::ffff:127.0.0.1]/", "a loopback address (127.0.0.1) inside an IPv6 address"),
    ("http://[::ffff:a9fe:a9fe]/", "a link-local address (169.254.169.254) inside an IPv6"),
    ("http://[::127.0.0.1]/", "a loopback address (127.0.0.1) inside an IPv6 address"),
    ("http://[2002:7f00:1::]/", "a loopback address (127.0.0.1) inside an IPv6 address"),
    ("http://[2002:a00:1::1]/", "a private address (10.0.0.1) inside an IPv6 address"),
    # Teredo: the client 127.0.0.1 is stored inverted in the last 32 bits.
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "(127.0.0.1) inside an IPv6"),
    ("http://[64:ff9b::a9fe:a9fe]/", "(169.254.169.254) inside an IPv6 address"),  # NAT64
    ("http://localhost/", "localhost is a local host name"),
    ("http://LOCALHOST./", "is a local host name"),
    ("http://api.localhost/", "is a local host name"),
    ("http://printer.local/", "is a local host name"),
    ("http://router.home.arpa/", "is a local host name"),
    ("http://db.internal/", "is a local host name"),
    ("http://intranet/", "intranet is a single-label host name"),
    ("http://metadata/computeMetadata/v1/", "metadata is a single-label host name"),
    ("ftp://example.com/", "must start with http:// or https://"),
    ("file:///etc/passwd", "must start with http:// or https://"),
    ("http://0177.0.0.1/", "not a valid URL"),  # httpx refuses octal dotted quads
    ("http:///path", "it has no host"),
]


@pytest.mark.parametrize(("url", "why"), REFUSED, ids=[u for u, _ in REFUSED])
def test_refused_when_set(url: str, why: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        check_url(url, STRICT)
    assert why in str(refused.value)
    if "SMMPANEL" in str(refused.value):
        assert str(refused.value).endswith("SMMPANEL_ALLOW_PRIVATE_URLS=1 allows it")


@pytest.mark.parametrize(
    "url", ["https://8.8.8.8/api/v2", "http://[2606:4700:4700::1111]:8080/x", "https://1.1.1.1"]
)
def test_public_addresses_pass(url: str) -> None:
    assert str(check_url(url, STRICT)) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/api/v2",
        "http://[::1]/",
        "http://10.0.0.1/",
        "http://0x7f000001/",
        "http://169.254.169.254/",
        "http://localhost:8000/hook",
        "http://metadata.google.internal/",
    ],
)
def test_the_owner_may_allow_private_addresses(url: str) -> None:
    assert str(check_url(url, OPEN)) == url


@pytest.mark.parametrize("url", ["http://user:pass@127.0.0.1/", "ftp://127.0.0.1/"])
def test_allowing_private_addresses_allows_nothing_else(url: str) -> None:
    with pytest.raises(UrlRefused):
        check_url(url, OPEN)


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("0", "0.0.0.0"),
        ("127.0.0.1.", "127.0.0.1"),
        ("[::1]", "::1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("fe80::1%eth0", "fe80::1"),
        ("fe80::1%25eth0", "fe80::1"),
    ],
)
def test_every_spelling_of_an_address_is_read_as_one(spelling: str, address: str) -> None:
    assert parse_ip_literal(spelling) == ip_address(address)


@pytest.mark.parametrize("name", ["example.com", "cafe.be", "deadbeef", "0x", "1.2.3.4.5", ""])
def test_names_are_not_addresses(name: str) -> None:
    assert parse_ip_literal(name) is None


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("2002:808:808::1", None),  # 6to4 of a public address
        ("64:ff9b::7f00:1", "a loopback address (127.0.0.1) inside an IPv6 address"),
        ("::", "the unspecified address"),
        ("::1", "a loopback address"),
    ],
)
def test_embedded_ipv4_is_judged_by_its_ipv4(address: str, why: str | None) -> None:
    assert forbidden_reason(ip_address(address)) == why


@pytest.mark.parametrize("address", ["::ffff:8.8.8.8", "64:ff9b::808:808", "::8.8.8.8"])
def test_ipv4_in_ipv6_forms_are_refused_even_for_public_ipv4(address: str) -> None:
    # Inside ::/8, which Python counts as reserved: a name resolves to plain IPv4
    # instead, so nothing legitimate needs these spellings.
    assert forbidden_reason(ip_address(address)) is not None


def stub_resolver(answers: dict[str, list[str]]) -> OutboundPolicy:
    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(-2, "Name or service not known")
        return answers[host]

    return OutboundPolicy(allow_private=False, resolve=resolve)


def test_a_name_is_refused_when_any_of_its_addresses_is_inside() -> None:
    policy = stub_resolver(
        {
            "public.example": ["93.184.216.34", "2606:2800:220:1::1"],
            "mixed.example": ["93.184.216.34", "10.0.0.7"],
            "internal.example": ["192.168.0.10"],
            "mapped.example": ["::ffff:169.254.169.254"],
        }
    )
    assert str(check_url("https://public.example/api/v2", policy)) == (
        "https://public.example/api/v2"
    )
    assert policy.addresses("public.example", 443) == ["93.184.216.34", "2606:2800:220:1::1"]
    for host, shown in [
        ("mixed.example", "mixed.example (10.0.0.7) is a private address"),
        ("internal.example", "internal.example (192.168.0.10) is a private address"),
        ("mapped.example", "(169.254.169.254) inside an IPv6 address"),
    ]:
        with pytest.raises(UrlRefused) as refused:
            check_url(f"https://{host}/", policy)
        assert shown in str(refused.value)


def test_a_name_that_does_not_resolve_is_refused_when_set() -> None:
    with pytest.raises(UrlRefused) as refused:
        check_url("https://nowhere.example/hook", stub_resolver({}))
    assert "cannot resolve nowhere.example: Name or service not known" in str(refused.value)


def test_local_names_are_refused_before_any_lookup() -> None:
    def resolve(host: str, port: int) -> list[str]:
        raise AssertionError(f"{host} was looked up")

    policy = OutboundPolicy(allow_private=False, resolve=resolve)
    for url in ["http://localhost/", "http://metadata.google.internal/", "http://intranet/"]:
        with pytest.raises(UrlRefused):
            check_url(url, policy)


def test_the_system_resolver_answers_for_localhost() -> None:
    # Resolved by the system (no network): the addresses the guard would check.
    addresses = {ip_address(a) for a in system_resolver("localhost", 80)}
    assert addresses and all(a.is_loopback for a in addresses)


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("https://p.example/api/v2", "https://p.example/_sim/orders", True),
        ("https://p.example/api/v2", "https://P.EXAMPLE:443/lookup", True),
        ("http://p.example/api/v2", "http://p.example:80/x", True),
        ("https://p.example/api/v2", "http://p.example/api/v2", False),
        ("https://p.example/api/v2", "https://p.example:8443/x", False),
        ("https://p.example/api/v2", "https://evil.example/x", False),
        ("https://p.example/api/v2", "https://p.example.evil.example/x", False),
        ("https://p.example/api/v2", "not a url at all\x00", False),
    ],
)
def test_same_origin(first: str, second: str, same: bool) -> None:
    assert same_origin(first, second) is same
