"""The node agent: a small gRPC service reporting a node's hardware.

``server.py`` serves it (``ollama-webmgr agent``), ``client.py`` is what the
manager calls, ``schema.py`` the JSON documents both sides validate, and
``hardware.py`` / ``gpu.py`` the pure readers fed by ``live.py``.
"""
