"""French typography of what the pages say: a typographic apostrophe (’), never
the typewriter one (') a person notices in « l'application »."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).parents[2] / "src" / "ollama_webmgr" / "web" / "templates"
JINJA = re.compile(r"{%.*?%}|{{.*?}}|{#.*?#}|<!--.*?-->", re.DOTALL)
STRAIGHT = re.compile(r"[A-Za-zÀ-ÿ]'[A-Za-zÀ-ÿ]")


@pytest.mark.parametrize(
    "template", sorted(TEMPLATES.glob("*.html")), ids=lambda path: path.name
)
def test_templates_use_the_typographic_apostrophe(template: Path) -> None:
    source = template.read_text(encoding="utf-8")
    # the text around the tags, and the double-quoted strings inside them
    said = [JINJA.sub(" ", source)]
    for tag in JINJA.findall(source):
        said += re.findall(r'"([^"]*)"', tag)
    assert [m for text in said for m in STRAIGHT.findall(text)] == []
