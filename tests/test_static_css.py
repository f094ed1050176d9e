"""Every class our stylesheets style is used by a template, a script or a form widget: no dead selectors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Classes added at run time by libraries, not by our markup: htmx while a request is in flight,
# CodeMirror around the SQL editor it builds.
ADDED_BY_LIBRARIES = {"htmx-request", "CodeMirror"}


def _sources() -> str:
    files = [*ROOT.glob("templates/**/*.html"), *ROOT.glob("static/js/*.js"), *ROOT.glob("feeds/**/*.py")]
    return "\n".join(p.read_text() for p in files)


def _styled_classes(css: str) -> set[str]:
    selectors = re.sub(r"\{[^}]*\}", "\n", re.sub(r"/\*.*?\*/", "", css, flags=re.S))
    return set(re.findall(r"\.(-?[A-Za-z_][\w-]*)", selectors))


@pytest.mark.parametrize("stylesheet", sorted(p.name for p in (ROOT / "static/css").glob("*.css")))
def test_every_styled_class_is_used(stylesheet):
    used = _sources()
    styled = _styled_classes((ROOT / "static/css" / stylesheet).read_text())
    dead = sorted(
        c for c in styled - ADDED_BY_LIBRARIES if not re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", used)
    )
    assert dead == []
