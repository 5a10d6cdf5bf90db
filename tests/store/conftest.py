"""Backends for the store tests: SQLite and TinyDB files, and a fresh PostgreSQL
database per run (``CREATE DATABASE webmgr_test_<random>``, dropped at the end).

Without a PostgreSQL server the ``postgres`` cases are skipped, except when ``CI``
is set: there they fail (the root conftest).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from ollama_webmgr.store import sql_tables
from ollama_webmgr.store.database import DatabaseManager, open_database

PG_ADMIN = os.environ.get(
    "WEBMGR_TEST_POSTGRES_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = [
    "sqlite",
    "tinydb",
    pytest.param("postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"webmgr_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = sa.create_engine(
            PG_ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with admin.connect() as conn:
            # C collation: text sorts by code point, as in SQLite and Python
            conn.exec_driver_sql(
                f"CREATE DATABASE {name} TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"
            )
    except sa.exc.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server on 127.0.0.1:5432 ({exc.orig})")
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


def empty_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    sql_tables.metadata.create_all(engine)
    with engine.begin() as conn:
        for table in reversed(sql_tables.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


@pytest.fixture
def empty_postgres_url(postgres_url: str) -> str:
    empty_postgres(postgres_url)
    return postgres_url


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL naming an empty store of the requested backend."""
    backend = request.param
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'store.sqlite3'}"
    if backend == "tinydb":
        return f"tinydb:///{tmp_path / 'data' / 'store.json'}"
    url: str = request.getfixturevalue("postgres_url")
    empty_postgres(url)
    return url


@pytest.fixture
def db(store_url: str) -> Iterator[DatabaseManager]:
    database = open_database(store_url)
    yield database
    database.close()


@pytest.fixture
def reopen(store_url: str) -> Callable[[], DatabaseManager]:
    """Open the same store again (after closing the previous handle)."""
    return lambda: open_database(store_url)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    explicit = any(
        m.name == "parametrize" and "store_url" in m.args[0]
        for m in metafunc.definition.iter_markers()
    )
    if "store_url" in metafunc.fixturenames and not explicit:
        metafunc.parametrize("store_url", BACKENDS, indirect=True)
