"""One blob download of an emulated node, as Ollama's ``server/download.go`` does it.

``HEAD`` the blob for its size, split it in up to ``NUM_PARTS`` parts, fetch
them in parallel with ranged ``GET``s, writing each byte at its offset in the
node's store. A part that fails is retried from where it stopped (up to
``MAX_RETRIES`` times, waiting ``retry_delay`` × 2^try, Ollama's 1 s, 2 s, 4 s…);
a part that receives nothing for ``stall_timeout`` seconds (Ollama: 30 s)
reconnects without counting a try. Parts record what they completed, so a
download cancelled or failed resumes later. Every pull of the blob joins the
same download and sees the same progress; when the last one leaves, the
download stops. The node's ``bandwidth`` paces the bytes of each download.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ollama_webmgr.sim.blobstore import Part, split

if TYPE_CHECKING:
    from ollama_webmgr.sim.state import SimState

NUM_PARTS = 4  # Ollama: 16 parts of 100 MB to 1 GB; the scaled catalogue needs fewer
MIN_PART_SIZE = 256 * 1024
MAX_RETRIES = 6
READ_SIZE = 1 << 16
PACE_STEP = 0.02  # seconds of bandwidth read at once when throttled


class PullError(Exception):
    """A pull failed: the message is Ollama's ``{"error"}`` text."""


def user_agent(state: SimState) -> str:
    return f"ollama/{state.version} (amd64 linux) Go/go1.24"


def connect(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    """A connection to ``url``'s host and the path to ask for."""
    parts = urlsplit(url)
    kind = (
        http.client.HTTPSConnection
        if parts.scheme == "https"
        else http.client.HTTPConnection
    )
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return kind(parts.netloc, timeout=timeout), path


@dataclass
class Download:
    digest: str
    url: str
    total: int
    parts: list[Part] = field(default_factory=list)
    refs: int = 0
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    cancelled: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _open: set[socket.socket] = field(default_factory=set, repr=False)
    _paced_until: float = 0.0
    _held_until: float = 0.0  # a stall knob of the node (``Faults.pulled``)

    def completed(self) -> int:
        return sum(part.completed for part in self.parts)

    def cancel(self) -> None:
        """Stop now: cut the connections the parts are reading from."""
        self.cancelled.set()
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def track(self, sock: socket.socket, on: bool) -> None:
        """The sockets parts read from. Their own: ``http.client`` hands the
        socket over to a response that will close it (``connection.sock`` is
        None then), and a cancel must still cut it."""
        with self._lock:
            if on:
                self._open.add(sock)
            else:
                self._open.discard(sock)

    def hold(self, until: float) -> None:
        """The parts read nothing before ``until`` (``time.monotonic()``)."""
        self._held_until = max(self._held_until, until)

    def held_for(self) -> float:
        """Seconds the parts must still wait (0 or less: none)."""
        return self._held_until - time.monotonic()

    def pace(self, count: int, rate: float) -> None:
        """Sleep so that the download's parts together keep under ``rate`` bytes/s."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._paced_until)
            self._paced_until = start + count / rate
            wait = self._paced_until - now
        if wait > 0:
            self.cancelled.wait(wait)


def join(state: SimState, digest: str, url: str, size: int) -> Download:
    """The download of ``digest`` (started when there is none); counts a reference."""
    while True:
        with state.lock:
            download = state.downloads.get(digest)
            if download is None:
                download = Download(digest, url, size, refs=1)
                state.downloads[digest] = download
                break
            if not download.cancelled.is_set():
                download.refs += 1
                return download
        download.done.wait(0.05)  # a cancelled one is winding down: wait for it
    threading.Thread(target=_run, args=(state, download), daemon=True).start()
    return download


def leave(state: SimState, download: Download) -> None:
    """Drop one reference; the last one stops the download (its parts are kept)."""
    with state.lock:
        download.refs -= 1
        last = download.refs <= 0
    if last and not download.done.is_set():
        download.cancel()


def _run(state: SimState, download: Download) -> None:
    try:
        _prepare(state, download)
        _fetch_parts(state, download)
        if download.error is None and not download.cancelled.is_set():
            state.store.finish(download.digest)
    except (PullError, OSError, KeyError) as error:  # KeyError: reset mid-way
        download.error = str(error)
    finally:
        kept = download.completed()
        with state.lock:
            state.downloads.pop(download.digest, None)
            if download.error is None and not download.cancelled.is_set():
                state.blobs.add(download.digest)
                state.partial.pop(download.digest, None)
            elif download.parts:
                state.partial[download.digest] = kept
        download.done.set()


def _prepare(state: SimState, download: Download) -> None:
    """Parts kept by an earlier download, else ``HEAD`` for the size and split."""
    parts = state.store.parts(download.digest)
    if not parts:
        download.total = _head(state, download.url)
        parts = split(download.total, NUM_PARTS, MIN_PART_SIZE)
    download.total = sum(part.size for part in parts)
    download.parts = parts
    state.store.begin(download.digest, download.total, parts)


def _head(state: SimState, url: str) -> int:
    connection, path = connect(url, state.stall_timeout)
    try:
        connection.request("HEAD", path, headers={"User-Agent": user_agent(state)})
        response = connection.getresponse()
        response.read()
    except (OSError, http.client.HTTPException) as error:
        raise PullError(f'Head "{url}": {error}') from None
    finally:
        connection.close()
    if response.status >= 400:
        raise PullError(f"{response.status}: {response.reason}")
    return int(response.headers.get("Content-Length") or 0)


def _fetch_parts(state: SimState, download: Download) -> None:
    failures: list[str] = []
    workers = [
        threading.Thread(
            target=_fetch_part, args=(state, download, part, failures), daemon=True
        )
        for part in download.parts
        if not part.done
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failures and not download.cancelled.is_set():
        raise PullError(failures[0])


def _fetch_part(
    state: SimState, download: Download, part: Part, failures: list[str]
) -> None:
    tries = 0
    while not part.done and not download.cancelled.is_set():
        try:
            _transfer(state, download, part)
        except TimeoutError:
            continue  # stalled: reconnect, as Ollama does, without counting a try
        except (OSError, http.client.HTTPException) as error:
            if download.cancelled.is_set():
                return
            tries += 1
            if tries >= MAX_RETRIES:
                failures.append(
                    f"max retries exceeded: {error or type(error).__name__}"
                )
                download.cancel()  # the other parts stop too
                return
            download.cancelled.wait(state.retry_delay * 2 ** (tries - 1))
        except KeyError as error:  # the store forgot the blob (a reset): give up
            failures.append(f"partial download removed: {error}")
            download.cancel()
            return
        finally:
            state.store.save_parts(download.digest, download.parts)


def _transfer(state: SimState, download: Download, part: Part) -> None:
    """One ranged ``GET`` for what the part lacks; raises when it ends early."""
    connection, path = connect(download.url, state.stall_timeout)
    try:
        connection.connect()
    except OSError as error:  # Go's client names the URL it could not reach
        raise ConnectionError(f'Get "{download.url}": {error}') from error
    sock = connection.sock
    download.track(sock, True)
    try:
        headers = {
            "User-Agent": user_agent(state),
            "Range": f"bytes={part.starts_at}-{part.stops_at - 1}",
        }
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        if response.status != 206:
            raise http.client.HTTPException(f"unexpected status code {response.status}")
        while not part.done and not download.cancelled.is_set():
            rate = max(state.bandwidth, 1.0)
            want = min(READ_SIZE, part.stops_at - part.starts_at)
            want = max(1, min(want, int(rate * PACE_STEP)))
            held = download.held_for()
            if held > 0:
                download.cancelled.wait(held)
                continue
            download.pace(want, rate)  # before reading: the first bytes wait too
            data = response.read1(want)
            if not data:
                raise ConnectionError("unexpected EOF")
            state.store.write(download.digest, part.starts_at, data)
            part.completed += len(data)
    finally:
        download.track(sock, False)
        connection.close()
