"""French words for what Ollama and ollama.com say in English.

Capabilities (« tools » → « outils »), input kinds (« Text » → « texte »), job
states and the status lines of a pull (« pulling 8227d622a37b » →
« téléchargement de la couche 8227d622a37b »). Jinja filters, and the SSE edge
adds the same wording to job events (``job_event_text``) so the browser shows
exactly what the server renders.
"""

from __future__ import annotations

import re
from typing import Any

from ollama_webmgr.french.messages import message_for_code, restart_reason_text

CAPABILITIES = {
    "completion": "génération",
    "tools": "outils",
    "insert": "insertion de code",
    "vision": "images",
    "embedding": "vectorisation",
    "thinking": "raisonnement",
    "image": "création d’images",
    "audio": "audio",
    "cloud": "nuage",
}
INPUTS = {"text": "texte", "image": "image", "audio": "audio", "video": "vidéo"}
STATES = {
    "queued": "en attente",
    "running": "en cours",
    "done": "terminé",
    "error": "échec",
    "cancelled": "annulé",
    "interrupted": "interrompu",
}
#: status words of our own tasks (forced eject) and Ollama's fixed pull lines
_STATUSES = {
    "pulling manifest": "lecture du manifeste",
    "verifying sha256 digest": "vérification de l’empreinte",
    "writing manifest": "écriture du manifeste",
    "removing unused layers": "suppression des couches inutilisées",
    "removing any unused layers": "suppression des couches inutilisées",
    "pulling model": "téléchargement du modèle",
    "success": "terminé",
    "checked": "vérification terminée",
    "unloading": "déchargement…",
    "retrying": "nouvel essai…",
    "ejected": "éjecté",
    "restarting pull": "relance automatique…",
    "looking for a peer": "recherche d’un serveur qui a le modèle à jour",
    "pulling from a peer": "copie depuis un autre serveur",
    "peer unreachable": "serveur source injoignable : autre source",
    "filling seed cache": "copie du registre vers le cache",
    "seed cache unreachable": "cache injoignable : téléchargement direct",
    "seed cache unreachable from the node": (
        "cache injoignable depuis ce serveur : téléchargement direct"
    ),
    "seed cache unreachable, cap not applied": (
        "cache injoignable : téléchargement direct, sans plafond de débit"
    ),
    "seed cache unreachable from the node, cap not applied": (
        "cache injoignable depuis ce serveur : téléchargement direct,"
        " sans plafond de débit"
    ),
}
_NBSP = "\u00a0"
_LAYER = re.compile(r"^(?:pulling|downloading) ([0-9a-f]{12})$")
_CHECKING = re.compile(r"^checking (.+)$")


def capability_label(capability: str) -> str:
    """French name of an Ollama capability (unknown ones as they are).

    >>> capability_label("tools"), capability_label("vision"), capability_label("x")
    ('outils', 'images', 'x')
    """
    return CAPABILITIES.get(capability.strip().lower(), capability)


def input_label(kind: str) -> str:
    """French name of an input kind of ollama.com's tags page.

    >>> input_label("Text"), input_label("Image")
    ('texte', 'image')
    """
    return INPUTS.get(kind.strip().lower(), kind)


def state_label(state: str) -> str:
    """French name of a job state.

    >>> state_label("queued"), state_label("done")
    ('en attente', 'terminé')
    """
    return STATES.get(state, state)


def status_text(status: object) -> str:
    """A job's status line in French.

    >>> status_text("pulling 8227d622a37b")
    'téléchargement de la couche 8227d622a37b'
    >>> status_text("pulling manifest"), status_text("success")
    ('lecture du manifeste', 'terminé')
    >>> status_text("checking qwen2.5:0.5b"), status_text("unloading")
    ('vérification de qwen2.5:0.5b', 'déchargement…')
    >>> status_text("couldn't remove unused layers: busy")
    'suppression des couches inutilisées impossible'
    >>> status_text(None), status_text("vérification terminée")
    ('', 'vérification terminée')
    """
    text = str(status or "").strip()
    if text.lower() in _STATUSES:
        return _STATUSES[text.lower()]
    if layer := _LAYER.match(text):
        return f"téléchargement de la couche {layer.group(1)}"
    if checking := _CHECKING.match(text):
        return f"vérification de {checking.group(1)}"
    if text.startswith("couldn't remove unused layers"):
        return "suppression des couches inutilisées impossible"
    return text


def rate_text(rate: object) -> str:
    """A byte rate the French way (decimal units, as sizes are shown).

    >>> rate_text(3_200_000), rate_text(5e6), rate_text(450_000), rate_text(None)
    ('3,2\xa0Mo/s', '5\xa0Mo/s', '450\xa0ko/s', '—')
    """
    if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
        return "—"
    if rate < 1_000_000:
        return f"{round(rate / 1000)}{_NBSP}ko/s"
    value = rate / 1_000_000
    text = f"{value:.1f}".rstrip("0").rstrip(".") if value < 100 else f"{value:.0f}"
    return f"{text.replace('.', ',')}{_NBSP}Mo/s"


def bandwidth_texts(data: dict[str, Any]) -> dict[str, str]:
    """The line's use and this pull's part, from a fill's progress event
    (``fleet_in_use``, ``fleet_cap``, ``flows``, ``waiting``, ``speed``); none
    without a cap. Before its speed is measured, a pull's part is its fair share.

    >>> bandwidth_texts({"fleet_in_use": 3.2e6, "fleet_cap": 5e6, "speed": 1.6e6,
    ...     "waiting": False})
    {'bandwidth_text': '3,2\xa0Mo/s sur 5\xa0Mo/s', 'share_text': 'part : 1,6\xa0Mo/s'}
    >>> bandwidth_texts({"fleet_in_use": 0, "fleet_cap": 5e6, "waiting": True})["share_text"]
    'en attente'
    >>> bandwidth_texts({"fleet_in_use": 0, "fleet_cap": 5e6, "flows": 2})["share_text"]
    'part : 2,5\xa0Mo/s'
    """
    cap = data.get("fleet_cap")
    if not isinstance(cap, int | float) or not cap:
        return {}
    texts = {
        "bandwidth_text": f"{rate_text(data.get('fleet_in_use'))} sur {rate_text(cap)}"
    }
    speed, flows = data.get("speed"), data.get("flows")
    if data.get("waiting"):
        texts["share_text"] = "en attente"
    elif isinstance(speed, int | float) and speed > 0:
        texts["share_text"] = f"part : {rate_text(speed)}"
    elif isinstance(flows, int) and flows > 0:
        texts["share_text"] = f"part : {rate_text(cap / flows)}"
    return texts


def restarts_text(count: object) -> str:
    """How often a pull restarted by itself (nothing when it never did).

    >>> restarts_text(2), restarts_text(0)
    ('relancé automatiquement (2)', '')
    """
    if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
        return ""
    return f"relancé automatiquement ({count})"


def restart_text(data: dict[str, Any]) -> str:
    """A restart event (``restarts``, ``reason``, ``stall_timeout``) in French.

    >>> restart_text({"restarts": 1, "reason": "stalled", "stall_timeout": 60.0})
    'relancé automatiquement (1) : aucun octet reçu depuis 60 s'
    """
    why = restart_reason_text(data.get("reason"), data.get("stall_timeout"))
    return f"{restarts_text(data.get('restarts'))} : {why}"


def job_event_text(data: dict[str, Any]) -> dict[str, Any]:
    """A job event with French ``status_text`` / ``state_text`` added.

    Covers progress and status events and the whole record a stream starts with.

    >>> job_event_text({"status": "pulling manifest"})["status_text"]
    'lecture du manifeste'
    >>> job_event_text({"state": "running", "job": {"progress": {"status": "success"}}})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'state': 'running', 'job': {'progress': {'status': 'success',
     'status_text': 'terminé'}}, 'state_text': 'en cours'}
    """
    out = dict(data)
    if isinstance(out.get("status"), str):
        out["status_text"] = status_text(out["status"])
    if restarts_text(out.get("restarts")):
        out["status_text"] = out["restart_text"] = restart_text(out)
    if isinstance(out.get("state"), str):
        out["state_text"] = state_label(out["state"])
    out.update(bandwidth_texts(out))
    job = out.get("job")
    if isinstance(job, dict) and isinstance(job.get("progress"), dict):
        progress = dict(job["progress"])
        progress["status_text"] = status_text(progress.get("status"))
        out["job"] = {**job, "progress": progress}
    return out


def localise_event(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """What the SSE edge sends: French texts added, a French ``message`` on errors.

    Ollama's own words stay in ``detail``.

    >>> localise_event("error", {"state": "error", "code": "ollama_stream_error",
    ...     "message": "pull model manifest: file does not exist"})["message"][:25]
    'Ce modèle n’existe pas da'
    >>> localise_event("error", {"state": "cancelled", "code": "cancelled",
    ...     "message": "cancelled"})["message"]
    'Tâche annulée.'
    """
    if kind in ("progress", "status") and "state" not in data:
        data = {**data, "state": "running"}  # a task reports only while it runs
    out = job_event_text(data)
    if kind == "error":
        detail = out.get("message")
        out["detail"] = detail
        out["message"] = message_for_code(
            str(out.get("code") or out.get("state") or ""),
            detail if isinstance(detail, str) else None,
        )
    job = out.get("job")
    if isinstance(job, dict) and job.get("state") in FAILED_STATES:
        out["job"] = {
            **job,
            "message": message_for_code(
                str(job.get("error_code") or job.get("state")), job.get("error")
            ),
        }
    return out


FAILED_STATES = frozenset({"error", "cancelled", "interrupted"})
