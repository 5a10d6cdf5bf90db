"""French for the error texts Ollama sends, where its HTTP status says too little.

A pull of an unknown model, for instance, is a 200 stream ending in
``{"error": "pull model manifest: file does not exist"}``: the status alone
would only say « the server reported an error ». The texts are Ollama's own
(contract §4.1, §5.3); the first pattern found in the message wins.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class OllamaMessage(NamedTuple):
    status: int
    code: str
    message: str


_REGISTRY_NETWORK = (
    r"pull model manifest: .*(dial tcp|i/o timeout|no such host|connection refused"
    r"|network is unreachable|tls: |context deadline exceeded|EOF)|max retries exceeded"
)

#: (pattern searched in Ollama's message, case-insensitive) -> what the person reads
_PATTERNS: tuple[tuple[str, OllamaMessage], ...] = (
    (
        r"no space left on device",
        OllamaMessage(
            507, "disk_full", "Espace disque insuffisant sur le serveur Ollama."
        ),
    ),
    (
        r"pull model manifest: file does not exist|manifest unknown",
        OllamaMessage(
            404,
            "model_not_in_library",
            "Ce modèle n’existe pas dans la bibliothèque Ollama : vérifiez son nom "
            "et son étiquette (par exemple qwen2.5:7b).",
        ),
    ),
    (
        r"requires a newer version of Ollama|pull model manifest: 412",
        OllamaMessage(
            409,
            "ollama_too_old",
            "Ce modèle demande une version plus récente d’Ollama : "
            "mettez Ollama à jour sur ce serveur.",
        ),
    ),
    (
        r"pull model manifest: (401|403)|unauthorized",
        OllamaMessage(
            403,
            "registry_denied",
            "Le registre refuse l’accès à ce modèle (modèle privé ou clé manquante).",
        ),
    ),
    (
        _REGISTRY_NETWORK,
        OllamaMessage(
            502,
            "registry_unreachable",
            "Le serveur Ollama ne parvient pas à joindre le registre des modèles : "
            "vérifiez sa connexion à Internet, puis réessayez.",
        ),
    ),
    (
        r"digest mismatch",
        OllamaMessage(
            502,
            "digest_mismatch",
            "Téléchargement corrompu (empreinte incorrecte) : relancez-le.",
        ),
    ),
    (
        r"insecure protocol",
        OllamaMessage(
            400,
            "insecure_registry",
            "Ce registre n’est pas en https : Ollama refuse de l’utiliser.",
        ),
    ),
    (
        r"requires MLX",
        OllamaMessage(
            409,
            "mlx_required",
            "Ce modèle demande le moteur MLX, absent de ce serveur Ollama.",
        ),
    ),
    (
        r"server busy|maximum pending requests",
        OllamaMessage(
            503,
            "ollama_busy",
            "Serveur Ollama occupé (trop de requêtes en attente) : "
            "réessayez dans un instant.",
        ),
    ),
    (
        r"requires more system memory|out of memory|insufficient memory",
        OllamaMessage(
            507,
            "out_of_memory",
            "Mémoire insuffisante sur le serveur Ollama pour charger ce modèle.",
        ),
    ),
    (
        r"destination \".*\" is invalid",
        OllamaMessage(
            400, "invalid_destination", "Nouveau nom refusé par le serveur Ollama."
        ),
    ),
    (
        r"invalid model name|(name|source) \".*\" is invalid|model is required",
        OllamaMessage(
            400, "invalid_model_name", "Nom de modèle refusé par le serveur Ollama."
        ),
    ),
    (
        r"request canceled",
        OllamaMessage(499, "request_canceled", "Requête annulée."),
    ),
)
_COMPILED = tuple((re.compile(p, re.IGNORECASE), m) for p, m in _PATTERNS)


def ollama_message(text: str | None) -> OllamaMessage | None:
    """The French reading of one of Ollama's error texts, if it is a known one.

    >>> ollama_message("pull model manifest: file does not exist").code
    'model_not_in_library'
    >>> ollama_message('pull model manifest: Get "https://registry.ollama.ai/v2/'
    ...     'library/x/manifests/latest": dial tcp: i/o timeout').code
    'registry_unreachable'
    >>> ollama_message("model 'qwen:7b' not found") is None  # a plain 404 says it
    True
    >>> ollama_message("something new") is None
    True
    """
    if not text:
        return None
    for pattern, message in _COMPILED:
        if pattern.search(text):
            return message
    return None
