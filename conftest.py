"""Root pytest hooks.

``--doctest-modules`` would also import every ``tests/**/conftest.py`` as a module
named ``conftest``; the test folders have no ``__init__.py``, so two of them clash.
Doctests live in ``src/``: skip conftest files during collection (pytest still
loads them as plugins).

Under CI (``CI`` set) a skip is a failure: a test skipped for a missing server,
browser or binary would otherwise pass unseen. On a workstation it stays a skip
(``-rs`` lists the reasons).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

# shared fixtures, from tests/ (on pytest's pythonpath)
pytest_plugins = ["redis_fixtures", "lingering_threads", "seed_fixtures"]


def pytest_configure(config: pytest.Config) -> None:
    _measure_children_under_gevent()


def _measure_children_under_gevent() -> None:
    """The processes the tests start (``make test`` measures them through
    ``COVERAGE_PROCESS_CONFIG``) are monkey-patched: coverage must follow their
    greenlets. This process stays on threads: following greenlets here gives
    every thread a greenlet state, whose clean-up at thread exit deadlocked
    under the tracer."""
    serialized = os.environ.get("COVERAGE_PROCESS_CONFIG")
    if serialized is None:
        return
    from coverage.config import CoverageConfig

    children = CoverageConfig.deserialize(serialized)
    children.concurrency = ["gevent"]
    os.environ["COVERAGE_PROCESS_CONFIG"] = children.serialize()


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    return True if collection_path.name == "conftest.py" else None


def _fail_skip_under_ci(report: pytest.CollectReport | pytest.TestReport) -> None:
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, where nothing may be: {reason}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    _fail_skip_under_ci(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    _fail_skip_under_ci(report)
    return report
