"""The gevent resolver the command line installs: literals parsed in place."""

import _socket

import gevent
import pytest

from ollama_webmgr.runtime.serving import LiteralFirstResolver


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_a_literal_is_answered_without_the_thread_pool(host):
    hub = gevent.get_hub()
    resolver = LiteralFirstResolver(hub)
    used = []
    resolver.pool = type("Pool", (), {"apply": lambda *a, **k: used.append(a)})()
    answer = resolver.getaddrinfo(host, 11434, 0, _socket.SOCK_STREAM)
    assert answer == _socket.getaddrinfo(host, 11434, 0, _socket.SOCK_STREAM)
    assert used == []


def test_a_name_still_goes_to_the_thread_pool():
    resolver = LiteralFirstResolver(gevent.get_hub())
    pool, used = resolver.pool, []

    class Recording:
        def apply(self, func, args, kwargs=None):
            used.append(args[0])
            return pool.apply(func, args, kwargs)

    resolver.pool = Recording()
    answer = resolver.getaddrinfo("localhost", 11434, 0, _socket.SOCK_STREAM)
    assert answer == _socket.getaddrinfo("localhost", 11434, 0, _socket.SOCK_STREAM)
    assert used == ["localhost"]
