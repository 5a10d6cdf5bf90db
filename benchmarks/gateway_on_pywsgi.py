"""``ollama-webmgr gateway`` served by gevent's pywsgi instead of its own server.

For ``bench_gateway.py`` only: the same gateway, settings and store, so the
difference is the server's work per request.
``python benchmarks/gateway_on_pywsgi.py PORT`` (settings from the environment).
"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from ollama_webmgr.runtime.gateway import run_gateway  # noqa: E402
from ollama_webmgr.runtime.serving import (  # noqa: E402
    make_pywsgi_server,
    use_literal_first_resolver,
)
from ollama_webmgr.settings import Settings  # noqa: E402

if __name__ == "__main__":
    use_literal_first_resolver()
    run_gateway(Settings.from_env(), "127.0.0.1", int(sys.argv[1]), make_pywsgi_server)
