"""Proxy trust; mirrors kettle/security/proxies.py (SECURITY.md "Hosts and proxies", case 40).

The peer address is the scope's ``client``, so every request here is a raw ASGI scope
(:func:`tests.security.test_hosts.asgi_call`) with the peer the test needs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kettle import ConfigError, Kettle, Request
from tests.conftest import MakeApp
from tests.security.test_hosts import Answer, asgi_call

PROXY = ("10.0.0.1", 50000)
STRANGER = ("203.0.113.9", 50000)
HSTS = "strict-transport-security"


def proxied(make_app: MakeApp, **config: Any) -> Kettle:
    app = make_app(**config)

    @app.route("/", methods=["GET", "POST"])
    async def whoami(req: Request) -> dict[str, Any]:
        client = req.client
        return {
            "client": client.host if client else None,
            "scheme": req.scheme,
            "host": req.host,
            "url": str(req.url),
        }

    @app.get("/login")
    async def login(req: Request) -> str:
        req.session["user"] = "ann"
        return "in"

    return app


def family(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The config that makes kettle read the forwarding headers of ``headers``' kind.

    ``PROXY_HEADERS`` is the setting proposed in the review of the proxy code; until it
    exists, it is an unknown key and ``Forwarded`` is read whenever it is present.
    """
    rfc7239 = any(name == b"forwarded" for name, _ in headers)
    return {"PROXY_HEADERS": "forwarded"} if rfc7239 else {}


def call(
    app: Kettle,
    headers: list[tuple[bytes, bytes]],
    peer: tuple[str, int] | None = PROXY,
    path: str = "/",
    **options: Any,
) -> Answer:
    return asyncio.run(
        asgi_call(app, path, host=b"backend:8000", headers=headers, client=peer, **options)
    )


def seen(app: Kettle, headers: list[tuple[bytes, bytes]], **options: Any) -> dict[str, Any]:
    answer = call(app, headers, **options)
    assert answer.status == 200, answer.body
    result: dict[str, Any] = answer.json()
    return result


UNCHANGED = {
    "client": PROXY[0],
    "scheme": "http",
    "host": "backend:8000",
    "url": "http://backend:8000/",
}
FORWARDED_SETS = [
    [
        (b"x-forwarded-for", b"198.51.100.7"),
        (b"x-forwarded-proto", b"https"),
        (b"x-forwarded-host", b"example.com"),
    ],
    [(b"forwarded", b"for=198.51.100.7;proto=https;host=example.com")],
]
CLIENT_VIEW = {
    "client": "198.51.100.7",
    "scheme": "https",
    "host": "example.com",
    "url": "https://example.com/",
}


@pytest.mark.parametrize("headers", FORWARDED_SETS, ids=["x-forwarded", "forwarded"])
@pytest.mark.parametrize(
    "config",
    [{}, {"TRUSTED_PROXIES": ["10.0.0.2", "192.168.0.0/16"]}],
    ids=["no-proxies", "other-proxies"],
)
def test_forwarding_headers_from_an_untrusted_peer_are_ignored(
    make_app: MakeApp, headers: list[tuple[bytes, bytes]], config: dict[str, Any]
) -> None:
    assert seen(proxied(make_app, **config, **family(headers)), headers) == UNCHANGED


@pytest.mark.parametrize("headers", FORWARDED_SETS, ids=["x-forwarded", "forwarded"])
@pytest.mark.parametrize(
    "proxies", [["10.0.0.1"], ["10.0.0.0/8"], ["*"], ["::1", "10.0.0.1/32"]], ids=str
)
def test_forwarding_headers_from_a_trusted_peer_apply(
    make_app: MakeApp, headers: list[tuple[bytes, bytes]], proxies: list[str]
) -> None:
    app = proxied(make_app, TRUSTED_PROXIES=proxies, **family(headers))
    assert seen(app, headers) == CLIENT_VIEW


def test_trusted_proxies_from_the_environment(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KETTLE_TRUSTED_PROXIES", "192.168.0.0/16, 10.0.0.1")
    app = proxied(make_app)
    assert seen(app, FORWARDED_SETS[0]) == CLIENT_VIEW


@pytest.mark.parametrize(
    ("chain", "client"),
    [
        (b"198.51.100.7", "198.51.100.7"),
        (b"6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the leftmost is the client's own say
        (b"6.6.6.6, 198.51.100.7, 10.0.0.5", "198.51.100.7"),  # skips a trusted hop
        (b"6.6.6.6, 198.51.100.7, 10.1.2.3, 10.0.0.5", "198.51.100.7"),
        (b"10.0.0.9, 10.0.0.5", "10.0.0.9"),  # all trusted: the leftmost
        (b"198.51.100.7:4711", "198.51.100.7"),
        (b"[2001:db8::1]:4711, 10.0.0.5", "2001:db8::1"),
    ],
)
def test_the_chain_is_walked_from_the_right(make_app: MakeApp, chain: bytes, client: str) -> None:
    app = proxied(make_app, TRUSTED_PROXIES=["10.0.0.0/8"])
    assert seen(app, [(b"x-forwarded-for", chain)])["client"] == client


@pytest.mark.parametrize(
    ("hops", "chain", "client"),
    [
        (1, b"6.6.6.6, 198.51.100.7, 192.0.2.1", "192.0.2.1"),
        (2, b"6.6.6.6, 198.51.100.7, 192.0.2.1", "198.51.100.7"),
        (3, b"6.6.6.6, 198.51.100.7, 192.0.2.1", "6.6.6.6"),
    ],
)
@pytest.mark.parametrize("peer", [PROXY, STRANGER])
def test_proxy_hops_counts_from_the_right_whatever_the_peer(
    make_app: MakeApp, hops: int, chain: bytes, client: str, peer: tuple[str, int]
) -> None:
    app = proxied(make_app, PROXY_HOPS=hops)
    assert seen(app, [(b"x-forwarded-for", chain)], peer=peer)["client"] == client


def test_rfc_7239_forwarded_with_an_ipv6_client(make_app: MakeApp) -> None:
    header = b'for="[2001:db8::1]:4711";proto=https;host=example.com'
    app = proxied(make_app, TRUSTED_PROXIES=["10.0.0.1"], PROXY_HEADERS="forwarded")
    assert seen(app, [(b"forwarded", header)]) == {**CLIENT_VIEW, "client": "2001:db8::1"}


def test_forwarded_elements_are_walked_like_x_forwarded_for(make_app: MakeApp) -> None:
    header = b"for=6.6.6.6;proto=http, for=198.51.100.7;proto=https, for=10.0.0.5;proto=https"
    app = proxied(make_app, TRUSTED_PROXIES=["10.0.0.0/8"], PROXY_HEADERS="forwarded")
    view = seen(app, [(b"forwarded", header)])
    assert (view["client"], view["scheme"]) == ("198.51.100.7", "https")


GARBAGE = [
    [(b"x-forwarded-for", b"not-an-ip")],
    [(b"x-forwarded-for", b"")],
    [(b"x-forwarded-for", b",,, ,")],
    [(b"x-forwarded-for", b"999.1.1.1")],
    [(b"x-forwarded-for", b"[::1")],
    [(b"x-forwarded-for", b"unknown, _hidden")],
    [(b"x-forwarded-for", "\u00e9\u00e9".encode("latin-1"))],
    [(b"x-forwarded-for", b"198.51.100.7"), (b"x-forwarded-proto", b"javascript")],
    [(b"x-forwarded-for", b"198.51.100.7"), (b"x-forwarded-proto", b"")],
    [(b"forwarded", b";;;==;")],
    [(b"forwarded", b'for="')],
    [(b"forwarded", b"for=unknown;proto=gopher")],
    [(b"forwarded", b"=")],
    [(b"forwarded", b"for")],
]


@pytest.mark.parametrize("headers", GARBAGE, ids=repr)
@pytest.mark.parametrize("config", [{"TRUSTED_PROXIES": ["*"]}, {"PROXY_HOPS": 2}], ids=str)
def test_garbage_is_served_with_the_best_known_client(
    make_app: MakeApp, headers: list[tuple[bytes, bytes]], config: dict[str, Any]
) -> None:
    view = seen(proxied(make_app, **config, **family(headers)), headers)
    assert view["client"] in (PROXY[0], "198.51.100.7")
    assert view["scheme"] == "http"


@pytest.mark.parametrize(
    ("header", "key", "value"),
    [
        ((b"x-forwarded-proto", b"https"), "scheme", "https"),
        ((b"x-forwarded-host", b"example.com"), "host", "example.com"),
    ],
)
@pytest.mark.parametrize("config", [{"TRUSTED_PROXIES": ["*"]}, {"PROXY_HOPS": 1}], ids=str)
def test_proto_or_host_without_a_forwarded_for_apply(
    make_app: MakeApp, header: tuple[bytes, bytes], key: str, value: str, config: dict[str, Any]
) -> None:
    view = seen(proxied(make_app, **config), [header])
    assert (view["client"], view[key]) == (PROXY[0], value)


def test_a_missing_peer_is_untrusted(make_app: MakeApp) -> None:
    app = proxied(make_app, TRUSTED_PROXIES=["10.0.0.0/8"])
    assert seen(app, FORWARDED_SETS[0], peer=None)["scheme"] == "http"


def test_a_star_trusts_a_unix_socket_peer(make_app: MakeApp) -> None:
    # uvicorn behind nginx on a Unix socket reports no client address at all.
    app = proxied(make_app, TRUSTED_PROXIES=["*"])
    assert seen(app, FORWARDED_SETS[0], peer=None) == CLIENT_VIEW


def test_an_ipv4_mapped_peer_matches_an_ipv4_network(make_app: MakeApp) -> None:
    app = proxied(make_app, TRUSTED_PROXIES=["10.0.0.0/8"])
    assert seen(app, FORWARDED_SETS[0], peer=("::ffff:10.0.0.1", 5000)) == CLIENT_VIEW


@pytest.mark.parametrize("trusted", [True, False])
def test_a_forwarded_https_turns_on_hsts_and_secure_cookies(
    make_app: MakeApp, trusted: bool
) -> None:
    app = proxied(make_app, TRUSTED_PROXIES=["10.0.0.1"] if trusted else [])
    headers = [(b"x-forwarded-for", b"198.51.100.7"), (b"x-forwarded-proto", b"https")]
    answer = call(app, headers, path="/login")
    assert answer.status == 200
    cookie = answer.header("set-cookie") or ""
    assert cookie.startswith("session=")
    assert ("; Secure" in cookie) is trusted
    assert (answer.header(HSTS) is not None) is trusted


@pytest.mark.parametrize(
    ("forwarded_host", "status"),
    [(b"example.com", 200), (b"evil.com", 400), (b"a@b", 400), (b"example.com:99999", 400)],
)
def test_a_forwarded_host_is_validated_like_the_host(
    make_app: MakeApp, forwarded_host: bytes, status: int
) -> None:
    # The proxy talks to kettle as "backend:8000", which is not on the list itself.
    app = proxied(make_app, TRUSTED_PROXIES=["10.0.0.1"], TRUSTED_HOSTS=["example.com"])
    headers = [(b"x-forwarded-for", b"198.51.100.7"), (b"x-forwarded-host", forwarded_host)]
    assert call(app, headers).status == status


@pytest.mark.parametrize(("peer", "status"), [(PROXY, 200), (STRANGER, 403)])
def test_the_csrf_origin_check_sees_the_clients_origin(
    make_app: MakeApp, peer: tuple[str, int], status: int
) -> None:
    app = proxied(make_app, TRUSTED_PROXIES=["10.0.0.1"])
    headers = [*FORWARDED_SETS[0], (b"origin", b"https://example.com")]
    assert call(app, headers, peer=peer, method="POST").status == status


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "not-an-ip", "", "example.com", "10.0.0.300"])
def test_a_bad_trusted_proxy_entry_stops_finalize(make_app: MakeApp, entry: str) -> None:
    app = proxied(make_app, TRUSTED_PROXIES=["10.0.0.1", entry])
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        app.finalize()


SPOOFED_FORWARDED = (b"forwarded", b"for=6.6.6.6;proto=https;host=evil.com")
SPOOFED_XFF = [(b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-host", b"evil.com")]


def test_a_client_sent_forwarded_header_is_ignored_by_default(make_app: MakeApp) -> None:
    # nginx in TRUSTED_PROXIES sets X-Forwarded-*, and passes a client's Forwarded on.
    headers = [
        SPOOFED_FORWARDED,
        (b"x-forwarded-for", b"6.6.6.6, 198.51.100.7"),
        (b"x-forwarded-proto", b"http"),
    ]
    view = seen(proxied(make_app, TRUSTED_PROXIES=["10.0.0.1"]), headers)
    assert (view["client"], view["scheme"], view["host"]) == (
        "198.51.100.7",
        "http",
        "backend:8000",
    )


def test_client_sent_x_forwarded_headers_are_ignored_for_rfc_7239(make_app: MakeApp) -> None:
    headers = [*SPOOFED_XFF, (b"forwarded", b"for=198.51.100.7;proto=https")]
    app = proxied(make_app, TRUSTED_PROXIES=["10.0.0.1"], PROXY_HEADERS="forwarded")
    view = seen(app, headers)
    assert (view["client"], view["scheme"], view["host"]) == (
        "198.51.100.7",
        "https",
        "backend:8000",
    )


@pytest.mark.parametrize("value", ["both", "", "x-forwarded-for"])
def test_a_bad_proxy_headers_value_stops_finalize(make_app: MakeApp, value: str) -> None:
    with pytest.raises(ConfigError, match="PROXY_HEADERS"):
        proxied(make_app, PROXY_HEADERS=value).finalize()


def test_repeated_x_forwarded_for_lines_are_one_list(make_app: MakeApp) -> None:
    # A proxy that adds its own line after the client's (RFC 9110: one comma-separated list).
    headers = [(b"x-forwarded-for", b"198.51.100.7"), (b"x-forwarded-for", b"10.0.0.5")]
    app = proxied(make_app, TRUSTED_PROXIES=["10.0.0.0/8"])
    assert seen(app, headers)["client"] == "198.51.100.7"
