"""Rate limiting; mirrors kettle/security/ratelimit.py and its stores.

Time is moved with an injected clock (MemoryStore(clock=...)); Redis tests use the local
server with this test's own key prefix, and distinct keys rather than waiting for windows.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

import pytest
import redis

from kettle import HTTPError, Kettle, Request, Response, Router, SetupError
from kettle.auth import LoginManager, UserMixin, login_user
from kettle.security.ratelimit import (
    MemoryStore,
    RateLimit,
    RedisStore,
    parse_limit,
    sliding_decision,
)
from kettle.testing import TestClient
from tests.conftest import REDIS_URL, MakeApp, redis_keys
from tests.servers.serverutil import free_port


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limited_app(make_app: MakeApp, *limits: RateLimit) -> Kettle:
    """An app with ``/limited`` behind ``limits`` and an unlimited ``/free``."""
    app = make_app()

    @app.route("/limited", methods=["GET", "POST"], middleware=list(limits))
    async def limited(req: Request) -> str:
        return "ok"

    @app.get("/free")
    async def free(req: Request) -> str:
        return "free"

    return app


def statuses(client: TestClient, path: str, count: int, method: str = "GET") -> list[int]:
    return [client.request(method, path).status_code for _ in range(count)]


# -- parsing and validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "per", "expected"),
    [
        ("100/minute", None, (100, 60.0)),
        ("5 per second", None, (5, 1.0)),
        ("10/5s", None, (10, 5.0)),
        ("1000/2 hours", None, (1000, 7200.0)),
        ("3/day", None, (3, 86400.0)),
        (" 7 / 1.5 m ", None, (7, 90.0)),
        ("2 PER Minute", None, (2, 60.0)),
        ("1/h", None, (1, 3600.0)),
        (100, 60, (100, 60.0)),
        (5, 0.5, (5, 0.5)),
    ],
)
def test_limits_are_parsed(
    limit: str | int, per: float | None, expected: tuple[int, float]
) -> None:
    assert parse_limit(limit, per) == expected
    assert (RateLimit(limit, per).limit, RateLimit(limit, per).window) == expected


@pytest.mark.parametrize(
    ("limit", "per", "message"),
    [
        ("100/fortnight", None, "unknown time unit 'fortnight'"),
        ("0/minute", None, "at least one request"),
        ("-1/s", None, "cannot read"),
        ("abc", None, "cannot read"),
        ("100", None, "cannot read"),
        ("", None, "cannot read"),
        ("5/0s", None, "at least a millisecond"),
        ("\u0661\u0660/minute", None, "cannot read"),  # Arabic-Indic digits
        ("5/minute", 60, "per= goes with an int"),
        (10, None, "needs a window"),
        (10, 0, "at least a millisecond"),
        (10, -1, "at least a millisecond"),
        (10, math.nan, "per= must be a number"),
        (10, "60", "per= must be a number"),
        (True, 60, "the limit must be"),
        (0, 60, "at least one request"),
        (10**12, 86400, "too large"),
    ],
)
def test_bad_limits_stop_the_app_from_starting(limit: Any, per: Any, message: str) -> None:
    with pytest.raises(SetupError, match=message):
        RateLimit(limit, per)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"key": "ipaddress"}, "key= is 'ip', 'user' or a function"),
        ({"key": 42}, "key= is"),
        ({"algorithm": "token-bucket"}, "algorithm= is 'fixed' or 'sliding'"),
        ({"name": 'a"b'}, "name= must be"),
        ({"name": ""}, "name= must be"),
        ({"name": "x" * 65}, "name= must be"),
        ({"methods": []}, "methods= takes"),
        ({"methods": [1]}, "methods= takes"),
        ({"store": object()}, "store= needs"),
        ({"ipv6_subnet": 0}, "ipv6_subnet="),
        ({"ipv6_subnet": 129}, "ipv6_subnet="),
    ],
)
def test_bad_options_stop_the_app_from_starting(options: dict[str, Any], message: str) -> None:
    with pytest.raises(SetupError, match=message):
        RateLimit("5/minute", **options)


@pytest.mark.parametrize("options", [{"max_keys": 0}, {"max_keys": True}])
def test_bad_memory_store_settings(options: dict[str, Any]) -> None:
    with pytest.raises(SetupError, match="max_keys"):
        MemoryStore(**options)


def test_names_are_derived_from_the_limit_and_kept_apart() -> None:
    first, second = RateLimit("4/7s"), RateLimit("4/7s")
    assert first.name.startswith("4-per-7s")
    assert first.name != second.name
    assert RateLimit("4/7s", name="shared").name == "shared"


# -- the two algorithms ------------------------------------------------------------------------


@pytest.mark.parametrize(("algorithm", "allowed"), [("fixed", 10), ("sliding", 5)])
def test_a_burst_across_a_window_edge(make_app: MakeApp, algorithm: Any, allowed: int) -> None:
    """5/minute: one request at 0 s, then five at 59.9 s and five at 60.1 s. The fixed
    window lets ten through (nine within 0.2 s); the sliding window holds to five."""
    clock = Clock(0.0)
    limit = RateLimit("5/minute", algorithm=algorithm, store=MemoryStore(clock=clock))
    with TestClient(limited_app(make_app, limit)) as client:
        seen = statuses(client, "/limited", 1)
        clock.now = 59.9
        seen += statuses(client, "/limited", 5)
        clock.now = 60.1
        seen += statuses(client, "/limited", 5)
    assert seen.count(200) == allowed
    assert set(seen) == {200, 429}


@pytest.mark.anyio
async def test_sliding_window_arithmetic() -> None:
    """3 per 60 s, windows aligned on the clock: the previous window's hits weigh by the
    share of it still inside the sliding window."""
    clock = Clock(0.0)
    store = MemoryStore(clock=clock)
    assert [await store.sliding("k", 3, 60_000) for _ in range(3)] == [
        (True, 2, 60_000),
        (True, 1, 60_000),
        (True, 0, 60_000),
    ]
    # Full in this window: wait for its end (60 s), then for a third of its hits to slide
    # out (20 s).
    assert await store.sliding("k", 3, 60_000) == (False, 0, 80_000)
    clock.now = 80.0  # previous 3 x 40/60 = 2, so one more fits
    assert await store.sliding("k", 3, 60_000) == (True, 0, 40_000)
    # 2 + 1 = 3: full again, until the previous weighs 1 (at 100 s).
    assert await store.sliding("k", 3, 60_000) == (False, 0, 20_000)
    clock.now = 100.0
    assert (await store.sliding("k", 3, 60_000))[0] is True
    clock.now = 240.0  # two windows later: nothing left of the past
    assert await store.sliding("k", 3, 60_000) == (True, 2, 60_000)


@pytest.mark.anyio
async def test_fixed_window_arithmetic() -> None:
    """The window starts with the key's first hit and lasts ``window`` from there."""
    clock = Clock(10.0)
    store = MemoryStore(clock=clock)
    assert [await store.fixed("k", 2, 60_000) for _ in range(3)] == [
        (True, 1, 60_000),
        (True, 0, 60_000),
        (False, 0, 60_000),
    ]
    clock.now = 55.5
    assert await store.fixed("k", 2, 60_000) == (False, 0, 14_500)
    clock.now = 70.0
    assert await store.fixed("k", 2, 60_000) == (True, 1, 60_000)


@pytest.mark.parametrize(
    ("previous", "current", "elapsed", "expected"),
    [
        (0, 0, 0, (True, 9, 60_000)),
        (10, 0, 30_000, (True, 4, 30_000)),  # 10 x 1/2 + 1 = 6 used
        (10, 4, 30_000, (True, 0, 30_000)),
        (10, 5, 30_000, (False, 0, 6_000)),  # until 10 x left/60 s <= 4
        (10, 10, 0, (False, 0, 66_000)),  # the next window, once 1/10 of this one is out
        (0, 10, 59_999, (False, 0, 6_001)),
    ],
)
def test_sliding_decision(previous: int, current: int, elapsed: int, expected: Any) -> None:
    assert sliding_decision(previous, current, elapsed, 10, 60_000) == expected


# -- scope: route, router, app -----------------------------------------------------------------


def test_a_route_limit_covers_that_route_only(make_app: MakeApp) -> None:
    with TestClient(limited_app(make_app, RateLimit("2/minute"))) as client:
        assert statuses(client, "/limited", 3) == [200, 200, 429]
        free = client.get("/free")
    assert free.status_code == 200
    assert "ratelimit" not in free.headers


def test_two_routes_with_the_same_limit_count_apart(make_app: MakeApp) -> None:
    app = make_app()

    @app.get("/a", middleware=[RateLimit("1/minute")])
    async def a(req: Request) -> str:
        return "a"

    @app.get("/b", middleware=[RateLimit("1/minute")])
    async def b(req: Request) -> str:
        return "b"

    with TestClient(app) as client:
        assert statuses(client, "/a", 2) == [200, 429]
        assert statuses(client, "/b", 2) == [200, 429]


def test_a_router_limit_covers_its_routes_together(make_app: MakeApp) -> None:
    app = make_app()
    api = Router()
    api.use(RateLimit("3/minute"))

    @api.get("/one")
    async def one(req: Request) -> str:
        return "1"

    @api.get("/two")
    async def two(req: Request) -> str:
        return "2"

    @app.get("/outside")
    async def outside(req: Request) -> str:
        return "out"

    app.use("/api", api)
    with TestClient(app) as client:
        seen = [client.get(path).status_code for path in ("/api/one", "/api/two") * 2]
        assert statuses(client, "/outside", 5) == [200] * 5
    assert seen == [200, 200, 200, 429]


def test_an_app_limit_counts_every_request_even_404s(make_app: MakeApp) -> None:
    app = make_app()
    app.use(RateLimit("3/minute"))

    @app.get("/")
    async def index(req: Request) -> str:
        return "home"

    with TestClient(app) as client:
        assert [client.get(p).status_code for p in ("/", "/nope", "/", "/")] == [200, 404, 200, 429]
        missing = client.get("/also-missing")
    assert missing.status_code == 429


def test_an_app_limit_and_a_route_limit_both_apply(make_app: MakeApp) -> None:
    clock = Clock(0.0)
    app = make_app()
    app.use(RateLimit("10/minute", name="global", store=MemoryStore(clock=clock)))
    login_limit = RateLimit("2/minute", name="login", store=MemoryStore(clock=clock))

    @app.get("/login", middleware=[login_limit])
    async def login(req: Request) -> str:
        return "form"

    with TestClient(app) as client:
        ok = client.get("/login")
        assert statuses(client, "/login", 2) == [200, 429]
        refused = client.get("/login")
    assert ok.headers.get_list("ratelimit") == ['"login";r=1;t=60', '"global";r=9;t=60']
    assert ok.headers.get_list("ratelimit-policy") == [
        '"login";q=2;w=60',
        '"global";q=10;w=60',
    ]
    # The route's refusals still count against (and are described by) the app's limit.
    assert refused.headers.get_list("ratelimit") == ['"login";r=0;t=90', '"global";r=6;t=60']


# -- keys ------------------------------------------------------------------------------------


def test_each_address_has_its_own_count(make_app: MakeApp) -> None:
    app = limited_app(make_app, RateLimit("1/minute"))
    with (
        TestClient(app, client=("10.0.0.1", 1)) as one,
        TestClient(app, client=("10.0.0.2", 1)) as two,
    ):
        assert statuses(one, "/limited", 2) == [200, 429]
        assert statuses(two, "/limited", 2) == [200, 429]


@pytest.mark.parametrize(
    ("first", "second", "shared"),
    [
        ("2001:db8::1", "2001:db8::2", True),  # one /64
        ("2001:db8::1", "2001:db8:0:1::1", False),
        ("::ffff:10.0.0.1", "10.0.0.1", True),  # IPv4 on a dual-stack listener
        ("::ffff:10.0.0.1", "::ffff:10.0.0.2", False),
    ],
)
def test_ipv6_clients_are_grouped_by_network(
    make_app: MakeApp, first: str, second: str, shared: bool
) -> None:
    app = limited_app(make_app, RateLimit("1/minute"))
    with TestClient(app, client=(first, 1)) as a, TestClient(app, client=(second, 1)) as b:
        assert a.get("/limited").status_code == 200
        assert b.get("/limited").status_code == (429 if shared else 200)


def test_ipv6_grouping_can_be_turned_off(make_app: MakeApp) -> None:
    app = limited_app(make_app, RateLimit("1/minute", ipv6_subnet=None))
    with (
        TestClient(app, client=("2001:db8::1", 1)) as a,
        TestClient(app, client=("2001:db8::2", 1)) as b,
    ):
        assert [a.get("/limited").status_code, b.get("/limited").status_code] == [200, 200]


def api_key(req: Request) -> str | None:
    return req.headers.get("x-api-key")


async def async_api_key(req: Request) -> str | None:
    await asyncio.sleep(0)
    return req.headers.get("x-api-key")


@pytest.mark.parametrize("key", [api_key, async_api_key, lambda req: async_api_key(req)])
def test_key_functions_sync_async_and_none(make_app: MakeApp, key: Any) -> None:
    with TestClient(limited_app(make_app, RateLimit("1/minute", key=key))) as client:
        assert [client.get("/limited", headers={"x-api-key": "a"}).status_code for _ in "12"] == [
            200,
            429,
        ]
        assert client.get("/limited", headers={"x-api-key": "b"}).status_code == 200
        unkeyed = [client.get("/limited") for _ in range(3)]  # None: not limited
    assert [r.status_code for r in unkeyed] == [200] * 3
    assert "ratelimit" not in unkeyed[0].headers


def test_a_key_function_returning_a_non_string_is_an_error(make_app: MakeApp) -> None:
    def number(req: Request) -> Any:
        return 42

    limit = RateLimit("1/minute", key=number)
    with TestClient(limited_app(make_app, limit), raise_server_exceptions=False) as client:
        assert client.get("/limited").status_code == 500


class User(UserMixin):
    def __init__(self, id: int) -> None:
        self.id = id


def user_app(make_app: MakeApp) -> Kettle:
    app = make_app()
    users = {"1": User(1), "2": User(2)}
    LoginManager(app, user_loader=users.get)

    @app.get("/login/<user_id>")
    async def login(req: Request, user_id: str) -> str:
        login_user(req, users[user_id])
        return "in"

    @app.get("/limited", middleware=[RateLimit("2/minute", key="user")])
    async def limited(req: Request) -> str:
        return "ok"

    return app


def test_user_keys_count_per_user_and_per_address_for_anonymous(make_app: MakeApp) -> None:
    app = user_app(make_app)
    with TestClient(app) as ada, TestClient(app) as bob, TestClient(app) as anonymous:
        ada.get("/login/1")
        bob.get("/login/2")
        assert statuses(ada, "/limited", 3) == [200, 200, 429]
        assert statuses(bob, "/limited", 3) == [200, 200, 429]  # same address, own count
        assert statuses(anonymous, "/limited", 3) == [200, 200, 429]


def test_user_keys_without_a_login_manager_use_the_address(make_app: MakeApp) -> None:
    app = limited_app(make_app, RateLimit("1/minute", key="user"))
    with TestClient(app) as client:
        assert statuses(client, "/limited", 2) == [200, 429]


# -- responses -------------------------------------------------------------------------------


def test_headers_on_allowed_and_refused_responses(make_app: MakeApp) -> None:
    clock = Clock(0.0)
    limit = RateLimit("2/minute", name="api", store=MemoryStore(clock=clock))
    with TestClient(limited_app(make_app, limit)) as client:
        first = client.get("/limited")
        clock.now = 18.2
        second = client.get("/limited")
        refused = client.get("/limited")
    assert first.headers["ratelimit-policy"] == '"api";q=2;w=60'
    assert first.headers["ratelimit"] == '"api";r=1;t=60'
    assert second.headers["ratelimit"] == '"api";r=0;t=42'  # 41.8 s rounded up
    assert "retry-after" not in second.headers
    assert refused.status_code == 429
    # The window ends in 41.8 s, then half of its two hits must slide out: 30 s more.
    assert refused.headers["retry-after"] == "72"
    assert refused.headers["ratelimit"] == '"api";r=0;t=72'
    assert refused.headers["ratelimit-policy"] == '"api";q=2;w=60'
    assert refused.json() == {
        "error": {
            "status": 429,
            "detail": "rate limit of 2 per 60 seconds exceeded; retry in 72 seconds",
        }
    }


def test_retry_after_is_at_least_one_second(make_app: MakeApp) -> None:
    clock = Clock(0.0)
    limit = RateLimit(1, per=0.25, algorithm="fixed", store=MemoryStore(clock=clock))
    with TestClient(limited_app(make_app, limit)) as client:
        assert client.get("/limited").headers["ratelimit-policy"].endswith(";w=1")
        refused = client.get("/limited")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert "retry in 1 second" in refused.json()["error"]["detail"]


def test_headers_can_be_turned_off(make_app: MakeApp) -> None:
    with TestClient(limited_app(make_app, RateLimit("1/minute", headers=False))) as client:
        allowed, refused = client.get("/limited"), client.get("/limited")
    assert "ratelimit" not in allowed.headers
    assert "ratelimit-policy" not in allowed.headers
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "ratelimit" not in refused.headers


def test_browsers_get_an_html_page(make_app: MakeApp) -> None:
    with TestClient(limited_app(make_app, RateLimit("1/minute"))) as client:
        client.get("/limited")
        refused = client.get("/limited", headers={"accept": "text/html"})
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/html")
    assert "rate limit of 1 per 60 seconds exceeded" in refused.text


def test_the_apps_429_handler_renders_the_refusal(make_app: MakeApp) -> None:
    app = limited_app(make_app, RateLimit("1/minute", name="tight"))

    @app.errorhandler(429)
    async def too_many(req: Request, exc: HTTPError) -> Response:
        return Response(f"slow down: {exc.detail}", 429, exc.headers)

    with TestClient(app) as client:
        client.get("/limited")
        refused = client.get("/limited")
    assert refused.status_code == 429
    assert refused.text.startswith("slow down: rate limit of 1 per 60 seconds exceeded")
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit"].startswith('"tight";r=0;t=')


def test_only_the_listed_methods_are_counted(make_app: MakeApp) -> None:
    app = make_app()

    @app.route(
        "/form", methods=["GET", "POST"], middleware=[RateLimit("1/minute", methods=["post"])]
    )
    async def form(req: Request) -> str:
        return "form"

    @app.get("/page", middleware=[RateLimit("1/minute", methods="GET")])
    async def page(req: Request) -> str:
        return "page"

    with TestClient(app) as client:
        assert statuses(client, "/form", 3) == [200] * 3
        assert "ratelimit" not in client.get("/form").headers
        assert statuses(client, "/form", 2, "POST") == [200, 429]
        # GET brings HEAD: kettle answers HEAD with the GET handler.
        assert [client.head("/page").status_code, client.get("/page").status_code] == [200, 429]


# -- the memory store --------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("algorithm", ["fixed", "sliding"])
async def test_spraying_keys_keeps_the_memory_store_bounded(algorithm: str) -> None:
    store = MemoryStore(max_keys=1000, clock=Clock(0.0))
    hit = getattr(store, algorithm)
    largest = 0
    for n in range(100_000):
        await hit(f"spray-{n}", 5, 60_000)
        largest = max(largest, len(store))
    assert largest <= 1000
    assert len(store) > 500  # live entries are kept while there is room


@pytest.mark.anyio
@pytest.mark.parametrize("algorithm", ["fixed", "sliding"])
async def test_expired_entries_are_evicted_before_live_ones(algorithm: str) -> None:
    clock = Clock(0.0)
    store = MemoryStore(max_keys=1000, clock=clock)
    hit = getattr(store, algorithm)
    for n in range(900):
        await hit(f"old-{n}", 5, 10_000)
    clock.now = 100.0  # the 900 have expired
    assert [(await hit("victim", 1, 10_000))[0] for _ in "12"] == [True, False]
    for n in range(500):  # past max_keys: the sweep drops the expired ones
        await hit(f"new-{n}", 5, 10_000)
    assert len(store) == 501
    assert (await hit("victim", 1, 10_000))[0] is False  # its count survived


# -- Redis -----------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("algorithm", ["fixed", "sliding"])
async def test_redis_hits_are_atomic(redis_prefix: str, algorithm: str) -> None:
    store = RedisStore(REDIS_URL, prefix=redis_prefix)
    hit = getattr(store, algorithm)
    try:
        # A day-long window: the burst does not straddle a window edge.
        results = await asyncio.gather(*(hit("crowd", 37, 86_400_000) for _ in range(200)))
    finally:
        await store.close()
    assert sum(allowed for allowed, _, _ in results) == 37
    assert sorted(remaining for allowed, remaining, _ in results if allowed) == list(range(37))
    assert all(wait > 0 for _, _, wait in results)


@pytest.mark.parametrize(
    ("previous", "current"), [(0, 0), (10, 0), (10, 4), (10, 5), (3, 10), (0, 10), (7, 7)]
)
def test_the_redis_script_agrees_with_the_python_arithmetic(
    redis_prefix: str, previous: int, current: int
) -> None:
    """Write a sliding state straight into Redis and compare the script's verdict with
    :func:`sliding_decision` for the same moment (a day-long window, aligned on UTC days)."""
    window = 86_400_000
    key = redis_prefix + "state"

    async def run() -> tuple[tuple[bool, int, int], float, float]:
        store = RedisStore(REDIS_URL, prefix=redis_prefix)
        try:
            seconds, micros = await store.client.time()
            before = seconds * 1000 + micros // 1000
            index = before // window
            await store.client.hset(key, mapping={"i": index, "c": current, "p": previous})
            hit = await store.sliding("state", 10, window)
            seconds, micros = await store.client.time()
            after = seconds * 1000 + micros // 1000
        finally:
            await store.close()
        assert after // window == index, "the test straddled UTC midnight; run it again"
        return hit, before - index * window, after - index * window

    hit, earliest, latest = asyncio.run(run())
    early = sliding_decision(previous, current, earliest, 10, window)
    late = sliding_decision(previous, current, latest, 10, window)
    assert hit[:2] in (early[:2], late[:2])
    assert min(early[2], late[2]) <= hit[2] <= max(early[2], late[2])


def test_a_redis_limit_through_the_app(make_app: MakeApp, redis_prefix: str) -> None:
    store = RedisStore(REDIS_URL, prefix=redis_prefix)
    app = limited_app(make_app, RateLimit("3/minute", name="shared", store=store))
    app.on_shutdown(store.close)
    # Two clients, one after the other, each with its own loop: the store follows.
    with TestClient(app) as client:
        assert statuses(client, "/limited", 2) == [200, 200]
    with TestClient(app) as client:
        seen = statuses(client, "/limited", 2)
        refused = client.get("/limited")
    assert seen == [200, 429]
    assert 1 <= int(refused.headers["retry-after"]) <= 120
    keys = redis_keys(redis_prefix)
    assert keys == [f"{redis_prefix}shared:s:ip:testclient".encode()]
    with redis.Redis.from_url(REDIS_URL) as direct:
        assert 0 < direct.pttl(keys[0]) <= 120_000  # the counts expire with their windows


@pytest.mark.parametrize("fail_open", [True, False])
def test_redis_down(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture, redis_prefix: str, fail_open: bool
) -> None:
    """Nothing listens on the port: requests pass (fail open) or get 503 (fail closed),
    never a 500, and the failure is reported once, not per request."""
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", prefix=redis_prefix, timeout=0.2)
    app = limited_app(make_app, RateLimit("1/minute", store=store, fail_open=fail_open))
    app.on_shutdown(store.close)
    with caplog.at_level(logging.WARNING, "kettle.ratelimit"), TestClient(app) as client:
        responses = [client.get("/limited") for _ in range(5)]
    expected = 200 if fail_open else 503
    assert [r.status_code for r in responses] == [expected] * 5
    assert "ratelimit" not in responses[0].headers
    if not fail_open:
        assert responses[0].headers["retry-after"] == "1"
        assert responses[0].json()["error"]["detail"].startswith("rate limiting is unavailable")
    warnings = [r for r in caplog.records if r.name == "kettle.ratelimit"]
    assert len(warnings) == 1
    assert "the store failed" in warnings[0].getMessage()


class BrokenStore(MemoryStore):
    async def sliding(self, key: str, limit: int, window_ms: int) -> tuple[bool, int, int]:
        raise RuntimeError("disk on fire")


def test_any_store_error_fails_open(make_app: MakeApp) -> None:
    with TestClient(limited_app(make_app, RateLimit("1/minute", store=BrokenStore()))) as client:
        assert statuses(client, "/limited", 3) == [200] * 3


def test_long_keys_are_stored_hashed(make_app: MakeApp, redis_prefix: str) -> None:
    store = RedisStore(REDIS_URL, prefix=redis_prefix)
    limit = RateLimit("1/minute", key=api_key, store=store, name="keys")
    app = limited_app(make_app, limit)
    app.on_shutdown(store.close)
    with TestClient(app) as client:
        long_a = [client.get("/limited", headers={"x-api-key": "a" * 8000}) for _ in "12"]
        long_b = client.get("/limited", headers={"x-api-key": "a" * 7999 + "b"})
        short = client.get("/limited", headers={"x-api-key": "k" * 128})
    assert [r.status_code for r in (*long_a, long_b, short)] == [200, 429, 200, 200]
    lengths = sorted(len(key) - len(redis_prefix) for key in redis_keys(redis_prefix))
    hashed, kept = len("keys:s:sha256:") + 64, len("keys:s:") + 128
    assert lengths == [hashed, hashed, kept]


def test_a_flushed_script_is_loaded_again(redis_prefix: str) -> None:
    """NOSCRIPT (a Redis restart or SCRIPT FLUSH) costs one SCRIPT LOAD, not an error.
    Flushing the script cache is harmless to other clients: it is only a cache."""

    async def hits() -> list[tuple[bool, int, int]]:
        store = RedisStore(REDIS_URL, prefix=redis_prefix)
        try:
            results = [await store.fixed("k", 5, 60_000)]
            await store.client.script_flush()
            results.append(await store.fixed("k", 5, 60_000))
            results.append(await store.sliding("other", 5, 60_000))
        finally:
            await store.close()
        return results

    results = asyncio.run(hits())
    assert [result[:2] for result in results] == [(True, 4), (True, 3), (True, 4)]
