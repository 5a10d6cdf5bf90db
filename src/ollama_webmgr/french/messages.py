"""French wording and HTTP status for every error the web edge can show.

Use cases raise ``WebmgrError`` subclasses with English, technical messages and
the facts a person needs (a setting and why it was refused, a key's id...); this
module is the one place that turns them into what a French-speaking user reads,
for both faces (``web/`` pages and toasts, ``api/`` JSON).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ollama_webmgr import errors
from ollama_webmgr.french.ollama_messages import ollama_message
from ollama_webmgr.gateway.balancer import STRATEGIES


class ErrorView(NamedTuple):
    status: int
    code: str
    message: str


#: most specific class first: the first ``isinstance`` match wins
_ERRORS: tuple[tuple[type[errors.WebmgrError], int, str], ...] = (
    (errors.OllamaUnreachable, 502, "Serveur Ollama injoignable."),
    (errors.OllamaTimeout, 504, "Délai dépassé : le serveur Ollama ne répond pas."),
    (errors.OllamaNotFound, 404, "Modèle introuvable sur le serveur Ollama."),
    (errors.OllamaBadRequest, 400, "Requête refusée par le serveur Ollama."),
    (errors.OllamaStreamError, 502, "Le serveur Ollama a signalé une erreur."),
    (errors.OllamaServerError, 502, "Erreur du serveur Ollama."),
    (errors.OllamaError, 502, "Erreur du serveur Ollama."),
    (errors.InvalidModelName, 400, "Nom de modèle invalide."),
    (errors.InvalidServerUrl, 400, "Adresse de serveur invalide (http://hôte:port)."),
    (errors.InvalidSearchQuery, 400, "Recherche invalide : vérifiez les critères."),
    (
        errors.RemoteModelNotFound,
        404,
        "Modèle introuvable sur ollama.com.",
    ),
    (
        errors.RemoteUnavailable,
        503,
        "Recherche indisponible : ollama.com ne répond pas, réessayez plus tard.",
    ),
    (errors.NoBackendAvailable, 503, "Aucun serveur Ollama disponible."),
    (errors.UnknownServer, 404, "Serveur inconnu."),
    (
        errors.InvalidServerName,
        400,
        "Nom de serveur invalide : 1 à 64 caractères parmi lettres, chiffres, "
        "« . », « _ », « - » et « : », en commençant par une lettre ou un chiffre.",
    ),
    (errors.ServerNameTaken, 409, "Ce nom est déjà utilisé par un autre serveur."),
    (errors.ServerUrlTaken, 409, "Ce serveur (même adresse) est déjà dans la liste."),
    (
        errors.ConfiguredServerRemoval,
        409,
        "Ce serveur vient de la configuration (OLLAMA_BASE_URL ou OLLAMA_SERVERS) : "
        "vous pouvez le renommer ou le désactiver, pas le supprimer.",
    ),
    (errors.LastActiveServer, 409, "Au moins un serveur doit rester actif."),
    (
        errors.InvalidAgentAddress,
        400,
        "Adresse d’agent invalide : hôte:port attendu (par exemple gpu-a:50051).",
    ),
    (
        errors.ServerCheckFailed,
        502,
        "Serveur injoignable : aucune réponse d’Ollama à cette adresse "
        "(GET /api/version). Vérifiez l’adresse et que le serveur tourne, "
        "puis réessayez.",
    ),
    (errors.FleetError, 400, "Modification de la liste des serveurs impossible."),
    (errors.JobNotFound, 404, "Tâche introuvable."),
    (
        errors.JobNotRetryable,
        409,
        "Seule une tâche en erreur, annulée ou interrompue peut être relancée.",
    ),
    (
        errors.ModelNameTaken,
        409,
        "Un modèle porte déjà ce nom sur ce serveur : choisissez un autre nom "
        "ou supprimez d’abord l’autre modèle.",
    ),
    (
        errors.EjectFailed,
        500,
        "Le modèle est toujours chargé : l’éjection forcée a échoué.",
    ),
    (
        errors.PullStalled,
        504,
        "Téléchargement abandonné : il restait bloqué malgré les relances "
        "automatiques.",
    ),
    (errors.JobError, 500, "La tâche a échoué."),
    (errors.StoreError, 500, "Erreur d’enregistrement des données."),
    (errors.AgentUnavailable, 503, "Agent du nœud injoignable."),
)

_HTTP_MESSAGES = {
    400: "Requête invalide.",
    403: "Requête refusée : rechargez la page puis réessayez.",
    404: "Page introuvable.",
    405: "Méthode non autorisée pour cette adresse.",
    413: "Requête trop volumineuse.",
    415: "Type de contenu non pris en charge : envoyez du JSON.",
    429: "Trop de requêtes : réessayez dans un instant.",
    500: "Erreur interne du serveur.",
    502: "Passerelle en erreur.",
    503: "Service indisponible.",
    504: "Délai dépassé.",
}


def describe_error(exc: errors.WebmgrError) -> ErrorView:
    """Status, code and French message for ``exc``.

    >>> describe_error(errors.OllamaUnreachable("connection refused")).message
    'Serveur Ollama injoignable.'
    >>> describe_error(errors.OllamaServerError(
    ...     "write /root/.ollama/blobs/x: no space left on device", status=500
    ... )).code
    'disk_full'
    >>> describe_error(errors.OllamaStreamError(
    ...     "pull model manifest: file does not exist", status=-1
    ... )).message[:44]
    'Ce modèle n’existe pas dans la bibliothèque '
    """
    if isinstance(exc, errors.OllamaError):
        known = ollama_message(exc.message)
        if known is not None:
            return ErrorView(*known)
    if isinstance(exc, errors.InvalidGatewaySettings):
        return ErrorView(400, exc.code, setting_refusal(exc))
    if isinstance(exc, errors.InvalidDownloadSettings):
        return ErrorView(400, exc.code, download_refusal(exc))
    if isinstance(exc, errors.InvalidServerField):
        return ErrorView(400, exc.code, server_field_refusal(exc))
    if isinstance(exc, errors.InvalidApiKeyLabel):
        return ErrorView(
            400, exc.code, f"Nom de clé attendu (1 à {exc.limit} caractères)."
        )
    if isinstance(exc, errors.UnknownApiKey):
        return ErrorView(404, exc.code, f"Clé inconnue : « {exc.key_id} ».")
    for kind, status, message in _ERRORS:
        if isinstance(exc, kind):
            return ErrorView(status, exc.code, message)
    return ErrorView(500, exc.code, "Une erreur est survenue.")


def http_message(status: int) -> str:
    """French message for an HTTP error status.

    >>> http_message(404)
    'Page introuvable.'
    >>> http_message(418)
    'Erreur 418.'
    """
    return _HTTP_MESSAGES.get(status, f"Erreur {status}.")


def message_for_code(code: str | None, detail: str | None = None) -> str:
    """French message for an error ``code`` kept in a job record.

    ``detail`` is the job's own error text: Ollama's words say more than the
    code when they are known (``ollama_messages``).

    >>> message_for_code("ollama_timeout")
    'Délai dépassé : le serveur Ollama ne répond pas.'
    >>> message_for_code("cancelled")
    'Tâche annulée.'
    >>> message_for_code("ollama_stream_error", "pull model manifest: file does not "
    ...     "exist (status -1) [http://127.0.0.1:11434]")[:34]
    'Ce modèle n’existe pas dans la bib'
    """
    if code == errors.PullStalled.code and (gave_up := _gave_up(detail)):
        return gave_up
    if code not in _JOB_CODES and (known := ollama_message(detail)) is not None:
        return known.message
    if code in _JOB_CODES:
        return _JOB_CODES[code]
    for kind, _status, message in _ERRORS:
        if kind.code == code:
            return message
    return "La tâche a échoué."


def restart_reason_text(reason: object, window: object = None) -> str:
    """Why a pull was restarted by itself, in French.

    >>> restart_reason_text("stalled", 60.0), restart_reason_text("stalled", 1.5)
    ('aucun octet reçu depuis 60 s', 'aucun octet reçu depuis 1,5 s')
    >>> restart_reason_text("backwards")
    'la progression a reculé'
    """
    if reason == "backwards":
        return "la progression a reculé"
    if isinstance(window, int | float) and not isinstance(window, bool):
        seconds = f"{window:g}".replace(".", ",")
        return f"aucun octet reçu depuis {seconds} s"
    return "aucun octet reçu"


_GAVE_UP = re.compile(
    r"gave up after (\d+) automatic restarts: "
    r"(?:no byte received for ([0-9.e+-]+) s|(progress went backwards))"
)


def _gave_up(detail: str | None) -> str | None:
    """The French reason of a pull that stayed stuck (``errors.PullStalled``).

    >>> _gave_up("pull of a:b gave up after 3 automatic restarts: "
    ...     "no byte received for 60 s")
    'Téléchargement abandonné après 3 relances automatiques : aucun octet reçu depuis 60 s.'
    >>> _gave_up("pull of a:b gave up after 0 automatic restarts: "
    ...     "progress went backwards")
    'Téléchargement abandonné : la progression a reculé.'
    """
    found = _GAVE_UP.search(detail or "")
    if found is None:
        return None
    count, window, backwards = found.groups()
    why = restart_reason_text(
        "backwards" if backwards else "stalled", None if backwards else float(window)
    )
    restarts = int(count)
    if restarts == 0:
        return f"Téléchargement abandonné : {why}."
    plural = "s" if restarts > 1 else ""
    return (
        f"Téléchargement abandonné après {restarts} relance{plural} "
        f"automatique{plural} : {why}."
    )


_JOB_CODES = {
    "cancelled": "Tâche annulée.",
    "interrupted": "Tâche interrompue : relancez-la.",
    "internal": "La tâche a échoué (erreur interne).",
}


def unknown_server_named(value: str) -> str:
    """A server asked for by name or address that the fleet does not have.

    >>> unknown_server_named("gpu-9")
    'Serveur inconnu : « gpu-9 ».'
    """
    return f"Serveur inconnu : « {value} »."


#: what a gateway setting expects, by the reason its value was refused
_SETTING_EXPECTATIONS: dict[errors.SettingReason, str] = {
    "strategy": f"{', '.join(STRATEGIES[:-1])} ou {STRATEGIES[-1]} attendu",
    "boolean": "true ou false attendu",
    "origins": "des origines schéma://hôte séparées par des virgules"
    " (une * au plus) attendues",
    "integer_min_1": "un entier supérieur ou égal à 1 attendu",
    "integer_min_0": "un entier positif ou nul attendu",
    "positive_seconds": "un nombre de secondes positif attendu",
    "unknown_setting": "un réglage connu attendu",
}
#: on the page the strategies are listed by their French names, not their values
_ON_FORM = {"strategy": "un des choix de la liste attendu"}


def setting_expectation(
    reason: errors.SettingReason,
    *,
    on_form: bool = False,
    choices: tuple[str, ...] = (),
) -> str:
    """What a refused gateway setting expects (a form names the choices itself);
    ``choices``: the values the error listed, when it could.

    >>> setting_expectation("integer_min_1")
    'un entier supérieur ou égal à 1 attendu'
    >>> setting_expectation("strategy")
    'least_in_flight, round_robin, weighted ou latency attendu'
    >>> setting_expectation("strategy", choices=("a", "b"))
    'a ou b attendu'
    """
    if on_form and reason in _ON_FORM:
        return _ON_FORM[reason]
    if choices and reason != "unknown_setting":
        listed = (
            f"{', '.join(choices[:-1])} ou {choices[-1]}"
            if len(choices) > 1
            else choices[0]
        )
        return f"{listed} attendu"
    return _SETTING_EXPECTATIONS[reason]


def setting_refusal(exc: errors.InvalidGatewaySettings) -> str:
    """One sentence for the first refused setting (what the JSON API answers).

    >>> setting_refusal(errors.InvalidGatewaySettings({"sticky": "boolean"}))
    'Valeur invalide pour « sticky » : true ou false attendu.'
    >>> setting_refusal(errors.InvalidGatewaySettings(
    ...     {"colour": "unknown_setting"}, known=("strategy", "sticky")))
    'Réglage inconnu : « colour ». Réglages possibles : strategy, sticky.'
    """
    name, reason = next(iter(exc.problems.items()))
    if reason == "unknown_setting":
        return f"Réglage inconnu : « {name} ». Réglages possibles : {', '.join(exc.known)}."
    expected = setting_expectation(reason, choices=exc.choices.get(name, ()))
    return f"Valeur invalide pour « {name} » : {expected}."


#: what a download setting expects, on the JSON API (bytes/s) and on the form (Mo/s)
_DOWNLOAD_EXPECTATIONS: dict[errors.DownloadReason, tuple[str, str]] = {
    "rate": (
        "un débit positif en octets par seconde, ou null (illimité), attendu",
        "un débit positif en Mo/s, ou vide (illimité), attendu",
    ),
    "positive_seconds": ("un nombre de secondes positif attendu",) * 2,
    "integer_min_0": ("un entier positif ou nul attendu",) * 2,
    "unknown_setting": ("un réglage connu attendu",) * 2,
}


def download_expectation(reason: errors.DownloadReason, *, on_form: bool) -> str:
    """What a refused download setting expects.

    >>> download_expectation("rate", on_form=True)
    'un débit positif en Mo/s, ou vide (illimité), attendu'
    """
    return _DOWNLOAD_EXPECTATIONS[reason][1 if on_form else 0]


def download_refusal(exc: errors.InvalidDownloadSettings) -> str:
    """One sentence for the first refused download setting (the JSON API's).

    >>> download_refusal(errors.InvalidDownloadSettings({"fleet_rate": "rate"}))
    'Valeur invalide pour « fleet_rate » : un débit positif en octets par seconde, ou null (illimité), attendu.'
    """
    name, reason = next(iter(exc.problems.items()))
    if reason == "unknown_setting":
        return f"Réglage inconnu : « {name} ». Réglages possibles : {', '.join(exc.known)}."
    return f"Valeur invalide pour « {name} » : {download_expectation(reason, on_form=False)}."


_SERVER_FIELDS = {"weight": "poids", "limit": "limite de requêtes"}


def server_field_refusal(exc: errors.InvalidServerField) -> str:
    """A server's number out of bounds, with the bounds.

    >>> server_field_refusal(errors.InvalidServerField("weight", 5000, low=0, high=1000))
    'Valeur invalide pour « poids » : un entier de 0 à 1000 attendu.'
    >>> server_field_refusal(errors.InvalidServerField("limit", -1, low=0))
    'Valeur invalide pour « limite de requêtes » : un entier positif ou nul attendu.'
    """
    label = _SERVER_FIELDS.get(exc.field, exc.field)
    if exc.high is None:
        expected = (
            "un entier positif ou nul" if exc.low == 0 else f"un entier ≥ {exc.low}"
        )
    else:
        expected = f"un entier de {exc.low} à {exc.high}"
    return f"Valeur invalide pour « {label} » : {expected} attendu."
