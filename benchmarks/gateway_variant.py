"""The gateway in one process, its request records stored in it or not at all.

For ``bench_records.py`` only: what ``ollama-webmgr gateway`` did before its
supervisor took the records over (``inline``: the serving process stores them,
a batch every second), and the floor with no records (``no-records``).
``python benchmarks/gateway_variant.py inline|no-records PORT`` (settings from
the environment).
"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from ollama_webmgr.gateway.stats import BatchRecorder  # noqa: E402
from ollama_webmgr.runtime.gateway import run_gateway  # noqa: E402
from ollama_webmgr.runtime.serving import use_literal_first_resolver  # noqa: E402
from ollama_webmgr.settings import Settings  # noqa: E402

if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    use_literal_first_resolver()
    # ``None``: the store's sinks in this process, as ``serve`` does
    recorder = BatchRecorder(lambda batch: None) if mode == "no-records" else None
    run_gateway(Settings.from_env(), "127.0.0.1", port, recorder=recorder)
