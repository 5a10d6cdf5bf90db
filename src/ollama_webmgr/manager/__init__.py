"""Process assembly: what a process runs besides its requests.

The background parts (``background``: health, records, schedule, config sync),
the gateway's own process (``gateway_process``), the once-per-fleet chores
(``duty``), the Ollama client pool (``clients``), the model list cache
(``cache``) and the recording of jobs, checks and requests (``recording``,
``record_writer``, ``model_requests``, ``reconcile``). The things a person can
do are in ``usecases/``.
"""
