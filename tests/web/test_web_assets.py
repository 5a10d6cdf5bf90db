from __future__ import annotations

import gzip
import json
import re
import subprocess
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from ollama_webmgr.errors import AssetsNotBuilt
from ollama_webmgr.web.dist import DIST_DIR, AssetManifest


@pytest.fixture
def css_url() -> str:
    return AssetManifest.load().url("app.css")


def test_manifest_maps_every_asset_to_a_content_hashed_file() -> None:
    manifest = AssetManifest.load()
    assert set(manifest.names) >= {"app.css", "app.js", "htmx.js", "alpine.js"}
    for logical, hashed in manifest.names.items():
        stem, ext = logical.rsplit(".", 1)
        assert re.fullmatch(rf"{stem}\.[0-9a-f]{{10}}\.{ext}", hashed)
        for suffix in ("", ".gz", ".br"):
            assert (DIST_DIR / f"{hashed}{suffix}").is_file()


def test_dist_holds_no_stale_files() -> None:
    names = AssetManifest.load().names.values()
    expected = {f"{n}{s}" for n in names for s in ("", ".gz", ".br")}
    assert {p.name for p in DIST_DIR.iterdir()} == expected | {"manifest.json"}


def test_hashed_files_are_cached_forever(client: FlaskClient, css_url: str) -> None:
    with client.get(css_url) as response:
        assert response.status_code == 200
        assert response.mimetype == "text/css"
        cache = response.cache_control
        assert cache.public
        assert cache.max_age == 31536000
        assert cache.immutable


def test_brotli_is_preferred_when_accepted(client: FlaskClient, css_url: str) -> None:
    with client.get(css_url, headers={"Accept-Encoding": "gzip, br"}) as response:
        assert response.headers["Content-Encoding"] == "br"
        assert "Accept-Encoding" in response.headers["Vary"]
        assert response.mimetype == "text/css"
        body = response.data
    plain = (DIST_DIR / css_url.rsplit("/", 1)[1]).read_bytes()
    assert body == (DIST_DIR / (css_url.rsplit("/", 1)[1] + ".br")).read_bytes()
    assert len(body) < len(plain)


def test_gzip_is_served_to_clients_without_brotli(
    client: FlaskClient, css_url: str
) -> None:
    with client.get(css_url, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        plain = (DIST_DIR / css_url.rsplit("/", 1)[1]).read_bytes()
        assert gzip.decompress(response.data) == plain


def test_identity_when_no_encoding_is_accepted(
    client: FlaskClient, css_url: str
) -> None:
    with client.get(css_url, headers={"Accept-Encoding": "br;q=0"}) as response:
        assert "Content-Encoding" not in response.headers
        plain = (DIST_DIR / css_url.rsplit("/", 1)[1]).read_bytes()
        assert response.data == plain


def test_revalidation_with_etag_answers_304(client: FlaskClient, css_url: str) -> None:
    with client.get(css_url, headers={"Accept-Encoding": "br"}) as first:
        etag = first.headers["ETag"]
    with client.get(
        css_url, headers={"Accept-Encoding": "br", "If-None-Match": etag}
    ) as second:
        assert second.status_code == 304


def test_unknown_or_unhashed_dist_files_are_not_served(client: FlaskClient) -> None:
    for path in (
        "/static/dist/manifest.json",
        "/static/dist/app.css",
        "/static/dist/x",
    ):
        with client.get(path) as response:
            assert response.status_code == 404


def test_missing_manifest_stops_start_up_with_a_clear_hint(tmp_path: Path) -> None:
    with pytest.raises(AssetsNotBuilt, match="make assets"):
        AssetManifest.load(tmp_path)


def test_unknown_asset_name_is_a_clear_error() -> None:
    manifest = AssetManifest(Path("."), json.loads('{"app.css": "app.0.css"}'))
    with pytest.raises(KeyError, match=r"unknown asset 'nope\.js'"):
        manifest.url("nope.js")


def test_build_is_deterministic_and_removes_stale_files() -> None:
    root = DIST_DIR.parents[4]
    before = (DIST_DIR / "manifest.json").read_text(encoding="utf-8")
    stale = DIST_DIR / "app.0123456789.js"
    stale.write_text("old", encoding="utf-8")
    subprocess.run(
        ["node", str(root / "scripts" / "build-assets.mjs")],
        cwd=root,
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert not stale.exists()
    assert (DIST_DIR / "manifest.json").read_text(encoding="utf-8") == before
