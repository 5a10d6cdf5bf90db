"""Console entry point: gevent first, then the commands."""

from __future__ import annotations

import sys


def main() -> None:
    # Monkey-patch before anything imports sockets, ssl or threading.
    from gevent import monkey

    monkey.patch_all()

    from ollama_webmgr.runtime.serving import use_literal_first_resolver

    use_literal_first_resolver()

    from ollama_webmgr.commands import cli
    from ollama_webmgr.errors import SettingsError

    try:
        cli(standalone_mode=True)
    except SettingsError as exc:
        print(
            f"ollama-webmgr : erreur de configuration : {exc.message}", file=sys.stderr
        )
        sys.exit(2)
