"""The one exception tree of ollama-webmgr.

Services raise these; three edges translate them (French HTML in the web app,
``{"error": {"code", "message"}}`` on our JSON API, ``{"error": "..."}`` on the gateway)::

    WebmgrError
    ├── OllamaError                 an Ollama server answered badly or not at all
    │   ├── OllamaUnreachable       connection refused / DNS / reset before an answer
    │   ├── OllamaTimeout           connect or read timeout
    │   ├── OllamaBadRequest        HTTP 400 (invalid name, bad JSON, ...)
    │   ├── OllamaNotFound          HTTP 404 (model not found)
    │   ├── OllamaServerError       HTTP 5xx or another unexpected status
    │   └── OllamaStreamError       an ``{"error": ...}`` line inside a 200 stream
    ├── InvalidModelName            a name that Ollama's parser would reject
    ├── InvalidServerUrl            a base URL that is not http(s)://host[:port]
    ├── SettingsError               a bad configuration value
    ├── StoreError                  the persistence layer failed
    ├── FleetError                  a change to the server list that cannot be made
    │   ├── UnknownServer           no server of that name (also a ``KeyError``)
    │   ├── InvalidServerName       a name the UI cannot carry (?server=, URLs)
    │   ├── ServerNameTaken         another server already has that name
    │   ├── ServerUrlTaken          that address is already in the fleet
    │   ├── ConfiguredServerRemoval servers from the environment cannot be removed
    │   ├── LastActiveServer        the last enabled server cannot be disabled
    │   ├── ServerCheckFailed       the address does not answer as an Ollama server
    │   └── InvalidAgentAddress     a node agent address that is not host:port
    ├── JobError                    job runner problems
    │   ├── JobNotFound
    │   ├── JobNotRetryable         only a failed, cancelled or interrupted job is retried
    │   ├── EjectFailed             a model still loaded after a forced eject
    │   └── PullStalled             a pull still stuck after its automatic restarts
    ├── ModelNameTaken              a copy would overwrite another model
    ├── InvalidGatewaySettings      gateway settings refused (each field with its reason)
    ├── InvalidApiKeyLabel          an API key name that is empty or too long
    ├── UnknownApiKey               no API key with that id
    ├── NoBackendAvailable          the gateway has no server for a request
    ├── InvalidSearchQuery          a library search the site would not take
    ├── RemoteUnavailable           ollama.com / the registry cannot be used
    │   └── RemoteModelNotFound     ollama.com has no page for that model
    ├── AgentUnavailable            a node agent cannot be reached
    │   └── AgentProtocolError      it answered with a document that breaks the schema
    └── AssetsNotBuilt              the front-end files were not built (make assets)

Errors carry what the UI needs to phrase them (a server's name, a setting and
the reason code of its refusal...), never only an English sentence: the one
place that turns them into French is ``french/messages.py``.

Every ``OllamaError`` keeps Ollama's own message (``message``), the HTTP status
(``status``; ``-1`` for an error line inside a stream, as the official client
does, ``None`` when no answer came) and the server it came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal


class WebmgrError(Exception):
    """Root of every error raised on purpose by ollama-webmgr."""

    #: machine-readable code used by the JSON API edge
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OllamaError(WebmgrError):
    code = "ollama_error"

    def __init__(
        self, message: str, *, status: int | None = None, server: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.server = server

    def __str__(self) -> str:
        where = f" [{self.server}]" if self.server else ""
        status = f" (status {self.status})" if self.status is not None else ""
        return f"{self.message}{status}{where}"


class OllamaUnreachable(OllamaError):
    code = "ollama_unreachable"


class OllamaTimeout(OllamaError):
    code = "ollama_timeout"


class OllamaBadRequest(OllamaError):
    code = "bad_request"


class OllamaNotFound(OllamaError):
    code = "not_found"


class OllamaServerError(OllamaError):
    code = "ollama_server_error"


class OllamaStreamError(OllamaError):
    code = "ollama_stream_error"


class InvalidModelName(WebmgrError):
    code = "invalid_model_name"


class InvalidServerUrl(WebmgrError):
    code = "invalid_server_url"


class SettingsError(WebmgrError):
    code = "invalid_setting"


class StoreError(WebmgrError):
    code = "store_error"


class InvalidStoreUrl(StoreError):
    """A store URL of an unknown scheme or shape."""

    code = "invalid_store_url"

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class StoreUnavailable(StoreError):
    """The store could not be opened (server down, file unreadable...)."""

    code = "store_unavailable"

    def __init__(self, message: str, *, location: str, detail: str) -> None:
        super().__init__(message)
        self.location = location
        self.detail = detail


class StoreNotFound(StoreError):
    """A store that must exist (a migration's source, ``db info``) does not."""

    code = "store_not_found"

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class FleetError(WebmgrError):
    code = "fleet_error"


class UnknownServer(FleetError, KeyError):
    """No server of that name (``name``: what was asked, None when none was).

    Also a ``KeyError``: the registry is a mapping of names, and the gateway
    reads it as one.
    """

    code = "unknown_server"

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name

    def __str__(self) -> str:
        return self.message  # not KeyError's quoted form


class InvalidServerName(FleetError):
    code = "invalid_server_name"


class ServerNameTaken(FleetError):
    code = "server_name_taken"

    def __init__(self, name: str) -> None:
        super().__init__(f"server {name!r} already exists")
        self.name = name


class ServerUrlTaken(FleetError):
    code = "server_url_taken"


class ConfiguredServerRemoval(FleetError):
    code = "configured_server"


class InvalidServerField(FleetError, ValueError):
    """A server's number out of its bounds: ``field`` (``weight`` or ``limit``),
    the ``value`` given and the bounds ``low`` .. ``high`` (None: no upper one).

    >>> str(InvalidServerField("weight", -1, low=0, high=1000))
    'weight must be between 0 and 1000, got -1'
    >>> str(InvalidServerField("limit", -2, low=0))
    'limit must be >= 0, got -2'
    """

    code = "invalid_parameter"

    def __init__(
        self, field: str, value: object, *, low: int, high: int | None = None
    ) -> None:
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        super().__init__(f"{field} must be {bounds}, got {value!r}")
        self.field = field
        self.value = value
        self.low = low
        self.high = high


class LastActiveServer(FleetError):
    code = "last_active_server"


class ServerCheckFailed(FleetError):
    code = "server_unreachable"


class InvalidAgentAddress(FleetError):
    code = "invalid_agent_address"


class JobError(WebmgrError):
    code = "job_error"


class JobNotFound(JobError):
    code = "job_not_found"


class JobNotRetryable(JobError):
    """Only a job that failed, was cancelled or interrupted can be retried."""

    code = "job_not_retryable"

    def __init__(self, job_id: str, state: str) -> None:
        super().__init__(f"job {job_id} is {state}")
        self.job_id = job_id
        self.state = state


class EjectFailed(JobError):
    code = "eject_failed"


class PullStalled(JobError):
    """A pull's bytes stalled or went back again after every automatic restart.

    The message keeps the facts (restarts, last reason, the window) in a fixed
    shape: a job record keeps only the code and this text, and the French
    wording is made from them (``french.messages``).
    """

    code = "pull_stalled"

    def __init__(self, model: str, restarts: int, reason: str, window: float) -> None:
        why = (
            "progress went backwards"
            if reason == "backwards"
            else f"no byte received for {window:g} s"
        )
        super().__init__(
            f"pull of {model} gave up after {restarts} automatic restarts: {why}"
        )
        self.model = model
        self.restarts = restarts
        self.reason = reason
        self.window = window


class ModelNameTaken(WebmgrError):
    """Ollama's copy silently overwrites an existing destination: we refuse it."""

    code = "model_name_taken"

    def __init__(self, name: str, server: str) -> None:
        super().__init__(f"{name} already exists on {server}")
        self.name = name
        self.server = server


#: why a gateway setting was refused: what the field expects
SettingReason = Literal[
    "unknown_setting",  # no setting of that name
    "strategy",  # one of the balancer's strategies
    "boolean",
    "origins",  # scheme://host patterns, one * at most
    "integer_min_1",
    "integer_min_0",
    "positive_seconds",
]


#: the English of each reason, for logs (the UI phrases the reason itself)
_SETTING_EXPECTED: dict[str, str] = {
    "strategy": "one of {allowed}",
    "boolean": "true or false",
    "origins": "scheme://host patterns (one * at most)",
    "integer_min_1": "an integer >= 1",
    "integer_min_0": "an integer >= 0",
    "positive_seconds": "a positive number of seconds",
}


class InvalidGatewaySetting(WebmgrError, ValueError):
    """One value ``GatewayConfig`` refuses: which ``setting``, the ``reason``
    (what it expects) and, when they can be listed, the ``allowed`` values
    (the strategies; the known settings for ``unknown_setting``).

    Also a ``ValueError``: a bad value, for code that only knows that much.

    >>> str(InvalidGatewaySetting("strategy", "strategy", allowed=("a", "b")))
    'strategy: expected one of a, b'
    >>> str(InvalidGatewaySetting("colour", "unknown_setting"))
    "unknown gateway setting 'colour'"
    """

    code = "invalid_parameter"

    def __init__(
        self,
        setting: str,
        reason: SettingReason,
        *,
        allowed: tuple[str, ...] = (),
    ) -> None:
        if reason == "unknown_setting":
            message = f"unknown gateway setting {setting!r}"
        else:
            expected = _SETTING_EXPECTED[reason].format(allowed=", ".join(allowed))
            message = f"{setting}: expected {expected}"
        super().__init__(message)
        self.setting = setting
        self.reason = reason
        self.allowed = allowed


class InvalidGatewaySettings(WebmgrError):
    """Gateway settings refused: ``problems`` maps each bad field to its reason
    (in the order given), ``known`` names the settings that may be changed;
    nothing was changed."""

    code = "invalid_parameter"

    def __init__(
        self,
        problems: Mapping[str, SettingReason],
        *,
        known: tuple[str, ...] = (),
        choices: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        super().__init__(
            "invalid gateway settings: "
            + ", ".join(f"{name} ({why})" for name, why in problems.items())
        )
        self.problems = dict(problems)
        self.known = known
        #: the values a refused setting may take, where they can be listed
        self.choices = dict(choices or {})

    @classmethod
    def of(
        cls, refusals: Sequence[InvalidGatewaySetting], *, known: tuple[str, ...]
    ) -> InvalidGatewaySettings:
        """Every refusal of one change, in order."""
        return cls(
            {r.setting: r.reason for r in refusals},
            known=known,
            choices={r.setting: r.allowed for r in refusals if r.allowed},
        )


DownloadReason = Literal["unknown_setting", "rate", "positive_seconds", "integer_min_0"]


class InvalidDownloadSettings(WebmgrError):
    """Download settings refused: ``problems`` maps each bad field to what it
    expects (in the order given); nothing was changed.

    >>> str(InvalidDownloadSettings({"fleet_rate": "rate"}))
    'invalid download settings: fleet_rate (rate)'
    """

    code = "invalid_parameter"

    def __init__(
        self, problems: Mapping[str, DownloadReason], *, known: tuple[str, ...] = ()
    ) -> None:
        super().__init__(
            "invalid download settings: "
            + ", ".join(f"{name} ({why})" for name, why in problems.items())
        )
        self.problems = dict(problems)
        self.known = known


class InvalidApiKeyLabel(WebmgrError):
    """An API key's name must have 1 to ``limit`` characters."""

    code = "invalid_parameter"

    def __init__(self, limit: int) -> None:
        super().__init__(f"an API key label has 1 to {limit} characters")
        self.limit = limit


class UnknownApiKey(WebmgrError):
    code = "unknown_key"

    def __init__(self, key_id: str) -> None:
        super().__init__(f"no API key {key_id!r}")
        self.key_id = key_id


class NoBackendAvailable(WebmgrError):
    code = "no_backend"


class InvalidSearchQuery(WebmgrError):
    code = "invalid_search_query"


class RemoteUnavailable(WebmgrError):
    code = "remote_unavailable"


class RemoteModelNotFound(RemoteUnavailable):
    code = "remote_model_not_found"


class AgentUnavailable(WebmgrError):
    code = "agent_unavailable"


class AgentProtocolError(AgentUnavailable):
    code = "agent_protocol_error"


class AssetsNotBuilt(WebmgrError):
    """The front-end files (``make assets``) are missing: the web app cannot start."""

    code = "assets_not_built"
