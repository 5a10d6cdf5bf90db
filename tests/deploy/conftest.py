"""Debian's nginx and openssl run the shipped nginx site (tests/deploy/test_nginx.py).

Missing binaries skip those tests on a workstation and fail them under CI
(the root conftest), where ``.ci/run`` installs them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from deploy_support import nginx_binary


@pytest.fixture(scope="session")
def nginx_installed() -> None:
    missing = [
        name
        for name, found in (
            ("nginx", Path(nginx_binary()).is_file()),
            ("openssl", shutil.which("openssl") is not None),
        )
        if not found
    ]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} missing (apt-get install {' '.join(missing)})"
        )
