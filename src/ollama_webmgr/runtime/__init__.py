"""The composition root: what builds the services, starts the processes and serves.

Only this package (and the command line above it) knows how the parts fit
together: the web process's ``Services`` (``services``), the gateway's
(``gateway``, ``gateway_services``), their background work (``background``),
the servers (``serving``), the supervisor and its workers (``prefork``,
``supervise``, ``worker_link``, ``record_writer``), the Flask app
(``webapp``), ``serve`` (``launch``) and ``demo``. Nothing below imports it.
"""
