"""The PWA endpoints over HTTP: manifest, service worker, offline page, icons."""

from __future__ import annotations

import json
import re
import struct
import zlib

import pytest
from flask.testing import FlaskClient
from web_support import inline_code_problems, parse

from ollama_webmgr.edge.security import SECURITY_HEADERS
from ollama_webmgr.web.dist import AssetManifest
from ollama_webmgr.web.pwa import (
    CONFIG_PLACEHOLDER,
    SERVICE_WORKER_TEMPLATE,
    service_worker_source,
)


def read_png(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and RGBA pixels of a PNG written by scripts/icons.mjs."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, {}
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(
            ">I", data[position + 8 + length : position + 12 + length]
        )
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks[kind] = body
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 6)  # 8-bit RGBA
    rows = zlib.decompress(chunks[b"IDAT"])
    stride = width * 4 + 1
    assert all(rows[y * stride] == 0 for y in range(height))  # filter: none
    pixels = b"".join(rows[y * stride + 1 : (y + 1) * stride] for y in range(height))
    return width, height, pixels


def alpha_at(png: tuple[int, int, bytes], x: int, y: int) -> int:
    width, _, pixels = png
    return pixels[(y * width + x) * 4 + 3]


@pytest.fixture
def web_manifest(client: FlaskClient) -> dict[str, object]:
    with client.get("/manifest.json") as response:
        assert response.status_code == 200
        assert response.mimetype == "application/manifest+json"
        assert response.cache_control.no_cache
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
        data: dict[str, object] = json.loads(response.data)
    return data


def test_manifest_describes_a_french_standalone_app(
    web_manifest: dict[str, object],
) -> None:
    assert web_manifest["lang"] == "fr"
    assert web_manifest["display"] == "standalone"
    assert web_manifest["start_url"] == "/"
    assert web_manifest["scope"] == "/"
    assert "modèles" in str(web_manifest["name"])
    assert web_manifest["short_name"]
    for colour in ("theme_color", "background_color"):
        assert re.fullmatch(r"#[0-9a-f]{6}", str(web_manifest[colour]))


def test_manifest_icons_are_served_pngs_of_the_announced_sizes(
    client: FlaskClient, web_manifest: dict[str, object]
) -> None:
    icons = web_manifest["icons"]
    assert isinstance(icons, list)
    found = {(icon["sizes"], icon["purpose"]) for icon in icons}
    assert found == {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")}
    for icon in icons:
        with client.get(icon["src"]) as response:
            assert response.status_code == 200
            assert response.mimetype == icon["type"] == "image/png"
            assert response.cache_control.immutable
            width, height, _ = read_png(response.data)
        assert f"{width}x{height}" == icon["sizes"]


def test_maskable_icon_is_opaque_to_its_corners_unlike_the_plain_one(
    client: FlaskClient,
) -> None:
    assets = AssetManifest.load()
    with client.get(assets.url("icon-maskable-512.png")) as response:
        maskable = read_png(response.data)
    with client.get(assets.url("icon-512.png")) as response:
        plain = read_png(response.data)
    assert alpha_at(maskable, 0, 0) == 255
    assert alpha_at(plain, 0, 0) == 0
    assert alpha_at(plain, 256, 256) == 255


def test_service_worker_is_served_uncached_at_the_root_scope(
    client: FlaskClient,
) -> None:
    with client.get("/service-worker.js") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"
        assert response.cache_control.no_cache
        assert response.headers["Service-Worker-Allowed"] == "/"
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
        etag = response.headers["ETag"]
        body = response.get_data(as_text=True)
    assert CONFIG_PLACEHOLDER not in body
    with client.get("/service-worker.js", headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304


def worker_config(source: str) -> dict[str, object]:
    match = re.search(r"^const CONFIG = (\{.*\});$", source, re.MULTILINE)
    assert match is not None
    config: dict[str, object] = json.loads(match.group(1))
    return config


def test_service_worker_precaches_every_asset_and_the_offline_page(
    client: FlaskClient,
) -> None:
    with client.get("/service-worker.js") as response:
        config = worker_config(response.get_data(as_text=True))
    shell = config["shell"]
    assert isinstance(shell, list)
    assets = AssetManifest.load()
    assert {assets.url(name) for name in assets.names} <= set(shell)
    assert {"/offline", "/manifest.json"} <= set(shell)
    assert config["offline"] == "/offline"
    assert config["pages"] == ["/"]
    for url in shell:
        with client.get(url) as precached:
            assert precached.status_code == 200, url


def test_a_deploy_with_new_assets_changes_the_worker_and_its_cache_name() -> None:
    assets = AssetManifest.load()
    changed = AssetManifest(
        assets.directory, {**assets.names, "app.css": "app.0000000000.css"}
    )
    before = worker_config(service_worker_source(assets))
    after = worker_config(service_worker_source(changed))
    assert before["version"] != after["version"]
    assert "/static/dist/app.0000000000.css" in after["shell"]  # type: ignore[operator]


def test_worker_template_must_keep_its_placeholder() -> None:
    with pytest.raises(ValueError, match=CONFIG_PLACEHOLDER):
        service_worker_source(AssetManifest.load(), template="self.x = 1;")
    assert CONFIG_PLACEHOLDER in SERVICE_WORKER_TEMPLATE.read_text(encoding="utf-8")


def test_offline_page_is_french_and_csp_clean(client: FlaskClient) -> None:
    with client.get("/offline") as response:
        assert response.status_code == 200
        doc = parse(response.data)
    assert doc.html["lang"] == "fr"
    assert "Hors ligne" in doc.get_text()
    assert inline_code_problems(doc) == []


def test_pages_link_the_manifest_and_the_home_screen_tags(
    client: FlaskClient,
) -> None:
    doc = parse(client.get("/").data)
    assert doc.find("link", rel="manifest")["href"] == "/manifest.json"
    metas = {
        tag["name"]: tag["content"]
        for tag in doc.find_all("meta", attrs={"name": True})
    }
    assert metas["apple-mobile-web-app-capable"] == "yes"
    assert metas["mobile-web-app-capable"] == "yes"
    assert metas["apple-mobile-web-app-title"]
    assert metas["apple-mobile-web-app-status-bar-style"] == "default"
    assert metas["theme-color"] == "#1e40af"
    touch_icon = doc.find("link", rel="apple-touch-icon")["href"]
    with client.get(touch_icon) as response:
        width, height, pixels = read_png(response.data)
    assert (width, height) == (180, 180)
    assert set(pixels[3::4]) == {255}  # iOS draws transparency in black


def test_offline_banner_and_pwa_buttons_start_hidden(client: FlaskClient) -> None:
    doc = parse(client.get("/").data)
    banner = doc.find(id="offline-banner")
    assert banner.has_attr("hidden")
    assert "Hors ligne" in banner.get_text()
    for button_id, label in (
        ("install-button", "Installer"),
        ("notifications-button", "Activer les notifications"),
    ):
        button = doc.find(id=button_id)
        assert button.get("aria-label", button.get_text(strip=True)) == label
        assert button.has_attr("x-cloak")
