from __future__ import annotations

import pytest

from ollama_webmgr.web.dist import DIST_DIR


@pytest.fixture(autouse=True, scope="session")
def _assets_are_built() -> None:
    if not (DIST_DIR / "manifest.json").is_file():
        pytest.fail(f"front-end assets are missing in {DIST_DIR}: run `make assets`")
