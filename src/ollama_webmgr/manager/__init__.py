"""What a process runs besides its requests, for the composition root to assemble.

The once-per-fleet chores (``duty``), the Ollama client pool (``clients``), the
model list cache (``cache``) and the recording of checks and requests
(``recording``, ``model_requests``, ``reconcile``). ``runtime/`` puts them
together; the things a person can do are in ``usecases/``.
"""
