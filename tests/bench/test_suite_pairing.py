"""The benchmark suite's pairing: which apps run together, and how a ratio is taken."""

from __future__ import annotations

import pytest
from bench.suite import frameworks as fws
from bench.suite import report, runner, targets
from bench.suite.results import Results
from bench.suite.scenarios import SCENARIOS
from bench.suite.wrk import Sample


def _add(results: Results, framework: str, scenario: str, rep: int, rps: float) -> None:
    results.add("secure", framework, scenario, rep, Sample(rps, 1.0, int(rps), 0, 0))


def _names(family: list[fws.Framework]) -> list[str]:
    return [fw.name for fw in family]


def test_each_family_lists_every_ceiling_before_the_apps_measured_against_it() -> None:
    families = runner.families(fws.select("default", quick=False))
    assert [family[0].family for family in families] == ["uvicorn", "granian", "wsgi"]
    for family in families:
        seen: set[str] = set()
        for framework in family:
            assert framework.ceiling is None or framework.ceiling in seen
            seen.add(framework.name)
    granian = _names(families[1])
    # kettle on RSGI is compared with Fastify, so node is measured in the same family.
    assert granian.index("kettle/granian-rsgi") < granian.index("fastify/node")
    assert granian[granian.index("raw-rsgi/granian-rsgi") + 1] == "kettle/granian-rsgi"


def test_gunicorns_io_wait_threads_get_their_own_start_of_the_wsgi_family() -> None:
    [wsgi] = runner.families(fws.select("flask", quick=False))
    chosen = [sc for sc in SCENARIOS if sc.name in {"plaintext", "json", "io-wait"}]
    assert [[s.name for s in group] for group in runner.groups(wsgi, chosen)] == [
        ["plaintext", "json"],
        ["io-wait"],
    ]


@pytest.mark.parametrize(("apps", "pool"), [(1, 16), (4, 16), (6, 14), (7, 12), (20, 4)])
def test_a_familys_pools_fit_postgresqls_connection_limit(apps: int, pool: int) -> None:
    family = [fws.BY_NAME["kettle/uvicorn"]] * apps
    assert runner.pool_size(family) == pool
    assert apps * runner.pool_size(family) <= runner.POOL_BUDGET


def test_a_ratio_is_the_median_of_quotients_within_each_repetition() -> None:
    results = Results()
    # The machine drifts 3x between repetitions; within each one kettle runs at 0.9.
    for rep, (ceiling, kettle) in enumerate([(30_000, 27_000), (10_000, 9_000), (20_000, 18_400)]):
        _add(results, "raw-asgi/uvicorn", "json", rep, ceiling)
        _add(results, "kettle/uvicorn", "json", rep, kettle)
    assert report.ratio(results, "secure", "kettle/uvicorn", "json") == pytest.approx(0.9)
    # The ratio of the medians would mix repetitions: 18,400 / 20,000.
    medians = 18_400 / 20_000
    assert report.ratio(results, "secure", "kettle/uvicorn", "json") != pytest.approx(medians)


def test_a_same_bytes_scenario_is_divided_by_the_ceilings_own_scenario() -> None:
    results = Results()
    _add(results, "raw-asgi/uvicorn", "params", 0, 40_000)
    _add(results, "kettle/uvicorn", "routes-1000", 0, 36_000)
    assert report.ratio(results, "secure", "kettle/uvicorn", "routes-1000") == pytest.approx(0.9)


def test_a_repetition_missing_on_one_side_is_left_out() -> None:
    results = Results()
    _add(results, "raw-asgi/uvicorn", "json", 0, 30_000)
    _add(results, "kettle/uvicorn", "json", 0, 27_000)
    _add(results, "kettle/uvicorn", "json", 1, 50_000)  # its ceiling failed in rep 2
    assert results.paired("secure", "kettle/uvicorn", "json", "raw-asgi/uvicorn", "json") == (
        pytest.approx(0.9)
    )
    assert results.paired("secure", "kettle/uvicorn", "db", "raw-asgi/uvicorn", "db") is None


def test_a_peer_is_compared_with_kettle_on_its_own_server() -> None:
    results = Results()
    for rep, (ours, theirs) in enumerate([(5_000, 5_100), (4_000, 4_100), (6_000, 6_200)]):
        _add(results, "kettle/uvicorn", "fortunes", rep, ours)
        _add(results, "blacksheep/uvicorn", "fortunes", rep, theirs)
    # kettle on RSGI is faster than BlackSheep on uvicorn; that is not the comparison.
    _add(results, "kettle/granian-rsgi", "fortunes", 0, 9_000)
    section = "\n".join(targets.section(results, report.ratio))
    assert "**not met**" in section
    assert "blacksheep/uvicorn (kettle/uvicorn at 0.98x)" in section
