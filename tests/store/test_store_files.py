"""File backends: leftovers of a crash, a damaged file, two writer processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ollama_webmgr.errors import StoreError
from ollama_webmgr.store.database import open_database


def test_tinydb_ignores_a_half_written_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    db = open_database(f"tinydb:///{path}")
    db.insert("jobs", {"id": "kept"})
    db.close()
    (tmp_path / ".store.json.999.tmp").write_text('{"jobs": {"1": {"id": "tor')
    again = open_database(f"tinydb:///{path}")
    try:
        assert [d["id"] for d in again.find("jobs")] == ["kept"]
    finally:
        again.close()


def test_a_damaged_tinydb_file_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    path.write_text("{not json")
    with pytest.raises(StoreError, match="cannot read"):
        open_database(f"tinydb:///{path}")


def test_the_data_directory_is_created(tmp_path: Path) -> None:
    for url in (
        f"sqlite:///{tmp_path / 'a' / 'b' / 'x.sqlite3'}",
        f"tinydb:///{tmp_path / 'c' / 'd' / 'x.json'}",
    ):
        open_database(url).close()
    assert (tmp_path / "a" / "b" / "x.sqlite3").exists()
    assert (tmp_path / "c" / "d").is_dir()


WRITER = """
import sys
from ollama_webmgr.store.database import open_database

db = open_database(sys.argv[1])
for i in range(150):
    db.upsert("models", ["name"], {"name": "shared", "by": sys.argv[2]})
    db.insert("audit", {"who": sys.argv[2], "i": i})
db.close()
"""


def test_two_processes_write_one_sqlite_file_without_lock_errors(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    open_database(url).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, name], stderr=subprocess.PIPE, text=True
        )
        for name in ("p1", "p2")
    ]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    db = open_database(url)
    try:
        assert db.count("audit") == 300
        assert db.count("models") == 1
    finally:
        db.close()
