"""Structured logs: one JSON object per line, correlated by request and job.

``request_id`` and ``job_id`` live in context variables (set by the web app per
request and by the job runner per job) and are stamped on every record emitted
while they are set. Credentials embedded in URLs or ``Authorization`` values are
masked before a line is written, so secrets never reach the logs.

What a client sends (model names, paths, headers) reaches the logs as the
arguments and extra fields of records: the formatter clips each of them to
``FIELD_LIMIT`` characters, in this one place, so a 100,000-character name
costs a few microseconds, not the process's attention. The masking patterns
cannot backtrack (possessive runs, and a scheme is only tried where a word
starts), so their cost is linear in the text whatever it holds.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
job_id_var: ContextVar[str | None] = ContextVar("job_id", default=None)

# The scheme is a whole run of scheme characters: tried once per run, not from
# each of its positions (that was quadratic), and "1http://" is masked too.
_URL_CREDENTIALS = re.compile(
    r"(?i)(?<![a-z0-9+.-])(?P<scheme>[a-z0-9+.-]++://)[^/@\s:]*+:[^/@\s]*+@"
)
_AUTH_VALUE = re.compile(r"(?i)\b(?P<kind>bearer|basic)\s++[A-Za-z0-9._~+/=-]++")
FIELD_LIMIT = 300  # characters of one logged value (an argument, an extra field)
MESSAGE_LIMIT = 4000  # characters of a whole message, and of a traceback line

#: ``LogRecord`` attributes that are not extra fields
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "request_id", "job_id"}


def redact(text: str) -> str:
    """Mask credentials in ``text``.

    >>> redact("connecting to redis://:s3cret@cache:6379/0")
    'connecting to redis://***@cache:6379/0'
    >>> redact("Authorization: Bearer abc.def")
    'Authorization: Bearer ***'
    >>> redact("http://localhost:11434/api/tags")
    'http://localhost:11434/api/tags'
    """
    text = _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
    return _AUTH_VALUE.sub(r"\g<kind> ***", text)


def clip(text: str, limit: int = FIELD_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out.

    >>> clip("x" * 10, 4)
    'xxxx… (+6 characters)'
    >>> clip("short")
    'short'
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (+{len(text) - limit} characters)"


def _clipped_args(args: object) -> object:
    """The record's arguments with long values clipped (numbers kept for %d)."""
    if isinstance(args, tuple):
        return tuple(_clipped(a) for a in args)
    if isinstance(args, dict):
        return {k: _clipped(v) for k, v in args.items()}
    return args


def _clipped(value: object) -> object:
    if value is None or isinstance(value, int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    return clip(text) if len(text) > FIELD_LIMIT else value


class ContextFilter(logging.Filter):
    """Copy the current request and job ids onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.job_id = job_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object; extra fields are kept."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(clip(_message(record), MESSAGE_LIMIT)),
        }
        for key in ("request_id", "job_id"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = redact(clip(value)) if isinstance(value, str) else value
        if record.exc_info:
            lines = self.formatException(record.exc_info).splitlines()
            text = "\n".join(clip(line, MESSAGE_LIMIT) for line in lines)
            entry["exception"] = redact(text)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _message(record: logging.LogRecord) -> str:
    """``record.getMessage()`` with its arguments clipped first."""
    if not record.args:
        return str(record.msg)
    return str(record.msg) % _clipped_args(record.args)


def json_handler(stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing JSON lines to ``stream`` (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    return handler


def configure_logging(level: str = "INFO", stream: IO[str] | None = None) -> None:
    """Send every log record of the process to ``stream`` as JSON lines.

    Called once by the command line; library code and ``create_app`` never touch
    the root logger.
    """
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(json_handler(stream))
    root.setLevel(level)
