"""French wording and HTTP status for every error the web edge can show.

Services raise ``WebmgrError`` subclasses with English, technical messages; this
module is the one place that turns them into what a French-speaking user reads.
"""

from __future__ import annotations

from typing import NamedTuple

from ollama_webmgr import errors
from ollama_webmgr.web.ollama_messages import ollama_message


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
        errors.EjectFailed,
        500,
        "Le modèle est toujours chargé : l’éjection forcée a échoué.",
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
    if code not in _JOB_CODES and (known := ollama_message(detail)) is not None:
        return known.message
    if code in _JOB_CODES:
        return _JOB_CODES[code]
    for kind, _status, message in _ERRORS:
        if kind.code == code:
            return message
    return "La tâche a échoué."


_JOB_CODES = {
    "cancelled": "Tâche annulée.",
    "interrupted": "Tâche interrompue : relancez-la.",
    "internal": "La tâche a échoué (erreur interne).",
}
