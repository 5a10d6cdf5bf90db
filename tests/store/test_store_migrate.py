"""Migration between backends: round trip, idempotence, CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ollama_webmgr.commands import cli
from ollama_webmgr.errors import StoreError
from ollama_webmgr.store.database import Sample, open_database
from ollama_webmgr.store.migrate import migrate, table_counts


def fill(url: str) -> dict[str, list[dict[str, object]]]:
    db = open_database(url)
    try:
        db.insert_many(
            "servers", [{"address": f"h{i}:11434", "load": i / 10} for i in range(5)]
        )
        db.insert(
            "models",
            {"name": "llama3", "servers": ["h1:11434"], "digest": {"h1": "ab"}},
        )
        db.insert("config", {"key": "retry_policy", "value": {"retries": 3}})
        db.insert_many("jobs", [{"kind": "pull", "state": "done"}] * 3)
        db.insert("audit", {"who": "admin", "what": "eject"})
        db.add_samples(
            [Sample(f"h{i % 2}", "load", 1000.0 + 600 * i, i) for i in range(50)]
        )
        db.prune_samples(1000.0 + 600 * 10)  # older history only in the rollups
        return {t: db.find(t) for t in ("servers", "models", "config", "jobs", "audit")}
    finally:
        db.close()


def snapshot(url: str) -> tuple[dict[str, object], dict[str, int], list[object]]:
    db = open_database(url)
    try:
        docs = {t: db.find(t) for t in ("servers", "models", "config", "jobs", "audit")}
        series = db.query_series(["h0", "h1"], "load", 0, 1e10, "hour")
        return docs, table_counts(db), series  # type: ignore[return-value]
    finally:
        db.close()


def test_tinydb_to_sqlite_and_back_keeps_everything(tmp_path: Path) -> None:
    tiny = f"tinydb:///{tmp_path / 'a.json'}"
    sql = f"sqlite:///{tmp_path / 'b.sqlite3'}"
    back = f"tinydb:///{tmp_path / 'c.json'}"
    fill(tiny)
    counts = migrate(tiny, sql)
    assert counts["servers"] == (5, 5)
    assert counts["server_stats"] == (40, 40)
    assert migrate(sql, back) == counts
    assert snapshot(back) == snapshot(tiny) == snapshot(sql)


def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    src = f"tinydb:///{tmp_path / 'a.json'}"
    dst = f"sqlite:///{tmp_path / 'b.sqlite3'}"
    fill(src)
    first = migrate(src, dst)
    assert migrate(src, dst) == first
    assert snapshot(dst) == snapshot(src)


def test_migration_fails_loudly_when_counts_differ(tmp_path: Path) -> None:
    src = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    dst = f"sqlite:///{tmp_path / 'b.sqlite3'}"
    fill(src)
    target = open_database(dst)
    target.insert("audit", {"who": "someone else"})
    target.close()
    with pytest.raises(StoreError, match="audit 1 != 2"):
        migrate(src, dst)
    with pytest.raises(StoreError, match="same store"):
        migrate(src, src)


@pytest.mark.postgres
def test_round_trip_through_postgresql(tmp_path: Path, empty_postgres_url: str) -> None:
    postgres_url = empty_postgres_url
    tiny = f"tinydb:///{tmp_path / 'a.json'}"
    back = f"sqlite:///{tmp_path / 'b.sqlite3'}"
    fill(tiny)
    migrate(tiny, postgres_url)
    migrate(postgres_url, back)
    assert snapshot(back) == snapshot(postgres_url) == snapshot(tiny)


def test_cli_migrate_prints_counts_and_info_describes_the_store(tmp_path: Path) -> None:
    src = f"tinydb:///{tmp_path / 'a.json'}"
    dst = f"sqlite:///{tmp_path / 'b.sqlite3'}"
    fill(src)
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "migrate", "--from", src, "--to", dst])
    assert result.exit_code == 0, result.output
    assert "servers" in result.output
    assert "ok : chaque table a autant de lignes" in result.output
    info = runner.invoke(cli, ["db", "info", "--url", dst])
    assert info.exit_code == 0, info.output
    assert "moteur                     sqlite" in info.output
    assert "plus ancien échantillon    01/01/1970 01:56:40 UTC" in info.output
    assert "server_stats_hourly" in info.output


def test_cli_reports_a_bad_url_without_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["db", "info", "--url", "mysql://x/y"])
    assert result.exit_code == 1
    assert "adresse de base non reconnue : « mysql://x/y »" in result.output
    unreachable = CliRunner().invoke(
        cli, ["db", "info", "--url", "postgresql://nobody@127.0.0.1:1/x"]
    )
    assert unreachable.exit_code == 1
    assert "impossible d’ouvrir la base" in unreachable.output


def test_cli_info_defaults_to_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"tinydb:///{tmp_path / 'x.json'}"
    with open_database(url) as db:
        db.insert("audit", {"who": "admin"})
    monkeypatch.setenv("DATABASE_URL", url)
    result = CliRunner().invoke(cli, ["db", "info"])
    assert result.exit_code == 0, result.output
    assert "moteur                     tinydb" in result.output
