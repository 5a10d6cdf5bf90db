"""The fastest Python relay known here: an aiohttp server and one pooled aiohttp client.

No features: every request goes to one upstream, the body is relayed as it
arrives. Run by the bench venv (``make bench``; aiohttp is not a dependency):
``build/bench-venv/bin/python benchmarks/aiohttp_relay.py UPSTREAM_URL PORT``.
"""

import sys

import aiohttp
from aiohttp import web

UPSTREAM = sys.argv[1].rstrip("/")
HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


async def relay(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
    session: aiohttp.ClientSession = request.app["session"]
    url = UPSTREAM + request.rel_url.raw_path_qs
    async with session.request(
        request.method, url, data=body or None, headers=headers
    ) as upstream:
        kept = [(k, v) for k, v in upstream.headers.items() if k.lower() not in HOP]
        response = web.StreamResponse(status=upstream.status, headers=kept)
        if upstream.content_length is not None:
            response.content_length = upstream.content_length
        await response.prepare(request)
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response


async def session(app: web.Application):  # type: ignore[no-untyped-def]
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
    app["session"] = aiohttp.ClientSession(connector=connector, auto_decompress=False)
    yield
    await app["session"].close()


if __name__ == "__main__":
    app = web.Application()
    app.cleanup_ctx.append(session)
    app.router.add_route("*", "/{tail:.*}", relay)
    web.run_app(
        app, host="127.0.0.1", port=int(sys.argv[2]), access_log=None, print=None
    )
