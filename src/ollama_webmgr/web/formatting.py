"""French display of numbers, sizes, counts and dates (Jinja filters too).

Every figure a person reads goes through here (``app.js`` mirrors the few the
browser formats itself): a decimal comma, a narrow no-break space between
thousands, French units (« 4,7 Go », « 3,3 M », « 3,2 Md »), and French words
for what ollama.com writes in English (« 5 months ago » → « il y a 5 mois »).
Written by hand rather than with Babel: these few rules cover every figure of
the app and need no locale data at start-up.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_UNITS = ("o", "ko", "Mo", "Go", "To", "Po")
#: U+202F, the thin no-break space French typography puts between thousands
THIN_SPACE = "\u202f"
NBSP = "\u00a0"


def fr_number(value: float, decimals: int = 1) -> str:
    r"""French number: decimal comma, thin grouping space, no useless ``,0``.

    >>> fr_number(1234.5), fr_number(99.0), fr_number(0.25, 2), fr_number(-3.14159, 2)
    ('1\u202f234,5', '99', '0,25', '-3,14')
    >>> fr_number(131072, 0), fr_number(30.0)
    ('131\u202f072', '30')
    """
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(",", THIN_SPACE).replace(".", ",")


def format_number(value: object, decimals: int = 1) -> str:
    r"""``fr_number`` for a template value that may be missing or not a number.

    >>> format_number(131072), format_number(None), format_number("12.50")
    ('131\u202f072', '—', '12,5')
    """
    if value is None or value == "" or isinstance(value, bool):
        return "—"
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    return fr_number(number, decimals)


def format_size(size: int | float | None) -> str:
    r"""A byte count the French way, in decimal units like ``ollama list``.

    A no-break space keeps the unit with its number.

    >>> format_size(4_683_087_332), format_size(815_319_791)
    ('4,7\xa0Go', '815\xa0Mo')
    >>> format_size(19_000_000_000), format_size(2_000_000_000)
    ('19\xa0Go', '2\xa0Go')
    >>> format_size(999), format_size(999_999), format_size(None)
    ('999\xa0o', '1\xa0Mo', '—')
    """
    if size is None or size < 0:
        return "—"
    value = float(size)
    unit = 0
    while unit < len(_UNITS) - 1 and round(value, 1) >= 1000:
        value /= 1000
        unit += 1
    if value < 10 and round(value, 1) != round(value):
        number = f"{value:.1f}".replace(".", ",")
    else:
        number = f"{round(value):d}"
    return f"{number}{NBSP}{_UNITS[unit]}"


_COMPACT = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*([kKmMbB]?)\s*$")
_SCALE = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9}


def parse_compact(text: str) -> float | None:
    """ollama.com's counts (« 3.3M », « 977.2K », « 12 ») as a number.

    >>> parse_compact("3.3M"), parse_compact("977.2K"), parse_compact("12")
    (3300000.0, 977200.0, 12.0)
    >>> parse_compact("lots") is None
    True
    """
    found = _COMPACT.match(text)
    if found is None:
        return None
    number = float(found.group(1).replace(",", "."))
    return number * _SCALE[found.group(2).lower()]


def format_count(value: object) -> str:
    r"""A large count in short French form: « 3,3 M », « 977,2 k », « 1,2 Md ».

    >>> format_count(3_300_000), format_count("977.2K"), format_count(1_234)
    ('3,3\xa0M', '977,2\xa0k', '1\u202f234')
    >>> format_count("1.2B"), format_count(None), format_count("n/a")
    ('1,2\xa0Md', '—', 'n/a')
    """
    if value is None:
        return "—"
    number = parse_compact(value) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    if number is None:
        return str(value)
    for threshold, scale, unit in ((1e9, 1e9, "Md"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if number >= threshold:
            return f"{fr_number(number / scale)}{NBSP}{unit}"
    return fr_number(number, 0)


_PARAMETERS = re.compile(r"^\s*(?:(\d+)\s*[x×]\s*)?(\d+(?:\.\d+)?)\s*([kKmMbBtT])\s*$")
_PARAMETER_SCALE = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def format_parameters(text: object) -> str:
    r"""A parameter count as Ollama or ollama.com writes it, the French way.

    « B » (billion) is a milliard (« Md »), « M » a million.

    >>> format_parameters("3.2B"), format_parameters("494.03M"), format_parameters("7b")
    ('3,2\xa0Md', '494\xa0M', '7\xa0Md')
    >>> format_parameters("999.89M"), format_parameters("0.5b"), format_parameters("8x7b")
    ('1\xa0Md', '500\xa0M', '8 × 7\xa0Md')
    >>> format_parameters("e2b"), format_parameters(""), format_parameters("1.5T")
    ('e2b', '', '1\u202f500\xa0Md')
    """
    raw = str(text or "")
    found = _PARAMETERS.match(raw)
    if found is None:
        return raw
    experts, value, unit = found.groups()
    count = float(value) * _PARAMETER_SCALE[unit.lower()]
    if count >= 999.5e6:
        short = f"{fr_number(count / 1e9)}{NBSP}Md"
    elif count >= 1e6:
        short = f"{fr_number(count / 1e6, 0)}{NBSP}M"
    else:
        short = f"{fr_number(count / 1e3, 0)}{NBSP}k"
    return f"{experts} × {short}" if experts else short


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    r"""« 1 modèle », « 3 modèles », « 0 modèle » (French: below 2 is singular).

    >>> plural(0, "modèle"), plural(1, "chargé"), plural(1_500, "requête")
    ('0 modèle', '1 chargé', '1\u202f500 requêtes')
    >>> plural(2, "mise à jour", "mises à jour")
    '2 mises à jour'
    """
    word = singular if abs(count) < 2 else (plural_form or singular + "s")
    return f"{fr_number(count, 0)} {word}"


_AGO = re.compile(
    r"^\s*(an?|\d+)\s+(second|minute|hour|day|week|month|year)s?\s+ago\s*$",
    re.IGNORECASE,
)
#: French unit, singular and plural (« mois » is both)
_FRENCH_UNITS = {
    "second": ("seconde", "secondes"),
    "minute": ("minute", "minutes"),
    "hour": ("heure", "heures"),
    "day": ("jour", "jours"),
    "week": ("semaine", "semaines"),
    "month": ("mois", "mois"),
    "year": ("an", "ans"),
}
_WORDS = {"yesterday": "hier", "just now": "à l’instant", "today": "aujourd’hui"}


def relative_time(value: object, now: datetime | None = None) -> str:
    """« il y a 5 mois »: from ollama.com's English (« 5 months ago ») or a date.

    >>> relative_time("2 minutes ago"), relative_time("an hour ago")
    ('il y a 2 minutes', 'il y a 1 heure')
    >>> relative_time("1 year ago"), relative_time("yesterday"), relative_time(None)
    ('il y a 1 an', 'hier', '—')
    >>> t = datetime(2026, 5, 1, tzinfo=UTC)
    >>> relative_time(datetime(2026, 4, 30, 23, 0, tzinfo=UTC), t)
    'il y a 1 heure'
    >>> relative_time(datetime(2026, 1, 1, tzinfo=UTC), t)
    'il y a 4 mois'
    """
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return _since(value, now or datetime.now(UTC))
    text = str(value).strip()
    if text.lower() in _WORDS:
        return _WORDS[text.lower()]
    found = _AGO.match(text)
    if found is None:
        return text
    amount = 1 if found.group(1).lower() in ("a", "an") else int(found.group(1))
    singular, plural_form = _FRENCH_UNITS[found.group(2).lower()]
    return f"il y a {amount} {singular if amount < 2 else plural_form}"


_STEPS = (
    (365 * 86400, "year"),
    (30 * 86400, "month"),
    (7 * 86400, "week"),
    (86400, "day"),
    (3600, "hour"),
    (60, "minute"),
)


def _since(moment: datetime, now: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "à l’instant"
    for length, unit in _STEPS:
        if seconds >= length:
            amount = int(seconds // length)
            singular, plural_form = _FRENCH_UNITS[unit]
            return f"il y a {amount} {singular if amount < 2 else plural_form}"
    return "à l’instant"  # pragma: no cover - the minute step always matches
