"""A web process does not load numpy: only the digests of rows as sent and the engine need it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = "import django; django.setup(); from django.urls import get_resolver; get_resolver().url_patterns"


def loads_numpy(code: str) -> bool:
    """Run `code` in a fresh interpreter (this test process has numpy loaded already) from this checkout."""
    probe = f"{code}; import sys; print('numpy' in sys.modules)"
    env = {"DJANGO_SETTINGS_MODULE": "wsync_site.test_settings", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip() == "True"


@pytest.mark.parametrize(
    "code",
    ["import feeds.warehouses.base", "import feeds.warehouses.registry", WEB],
    ids=["base", "registry", "urls"],
)
def test_it_imports_without_loading_numpy(code: str) -> None:
    assert not loads_numpy(code)


def test_the_probe_sees_numpy_when_a_module_loads_it() -> None:
    # The PostgreSQL family digests rows as sent with numpy: the probe must notice that import.
    assert loads_numpy("from feeds.warehouses.base import wire_digests; wire_digests([b'row'])")
