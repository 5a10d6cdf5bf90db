"""gRPC under gevent: its core must be told to cooperate with the hub."""

from __future__ import annotations


def cooperate_with_gevent() -> bool:
    """Switch gRPC to gevent when the process is monkey-patched; whether it did.

    Must run before the first channel or server is created (the CLI patches
    first thing, so the commands call this before building any gRPC object).
    Calling it again is harmless.
    """
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        return False
    import grpc.experimental.gevent as grpc_gevent

    grpc_gevent.init_gevent()
    return True
