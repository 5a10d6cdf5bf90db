"""One typed settings object, read once from the environment and ``.env``.

Each field names its environment variable and a French description; the README's
configuration table is checked against these (``tests/test_settings.py``).
An invalid value raises ``SettingsError`` naming the variable and what it expects.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from ollama_webmgr.errors import InvalidServerUrl, SettingsError
from ollama_webmgr.ollama.origins import valid_pattern
from ollama_webmgr.ollama.urls import normalize_base_url

Parser = Callable[[str], Any]


def _setting(env: str, default: Any, doc: str, parse: Parser | None = None) -> Any:
    return field(default=default, metadata={"env": env, "doc": doc, "parse": parse})


def _url(value: str) -> str:
    try:
        return normalize_base_url(value)
    except InvalidServerUrl as exc:
        raise ValueError(f"une URL http(s)://hôte[:port] ({exc.message})") from None


def _url_list(value: str) -> tuple[str, ...]:
    return tuple(_url(item) for item in value.split(",") if item.strip())


def _web_url(value: str) -> str:
    text = value.strip().rstrip("/")
    if not text.startswith(("http://", "https://")) or " " in text:
        raise ValueError("une URL http:// ou https://")
    return text


def _origin_list(value: str) -> tuple[str, ...]:
    origins = tuple(item.strip() for item in value.split(",") if item.strip())
    if not all(valid_pattern(origin) for origin in origins):
        raise ValueError(
            "des origines schéma://hôte séparées par des virgules, une * au plus"
        )
    return origins


def _port(value: str) -> int:
    port = _integer(value)
    if not 0 <= port <= 65535:
        raise ValueError("un numéro de port entre 0 et 65535")
    return port


def _integer(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ValueError("un entier") from None


def _positive_float(value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise ValueError("un nombre de secondes") from None
    if number <= 0:
        raise ValueError("un nombre de secondes positif")
    return number


def _bytes(value: str) -> int | None:
    """Bytes, with an optional k, m or g suffix (binary: 1m = 1,048,576);
    None when it is not a size."""
    text = value.strip().lower().removesuffix("b")
    factor = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(text[-1:], 1)
    number = text[:-1] if factor > 1 else text
    return int(number) * factor if number.isdigit() else None


def _size(value: str) -> int:
    size = _bytes(value)
    if not size:
        raise ValueError("a positive size in bytes, e.g. 33554432 or 32m")
    return size


def _bound(value: str) -> int:
    """A size, or 0 for no bound."""
    size = _bytes(value)
    if size is None:
        raise ValueError(
            "une taille en octets (suffixes k, m, g permis ; 0 : sans limite)"
        )
    return size


def _name_list(value: str) -> tuple[str, ...]:
    names = tuple(item.strip().lower() for item in value.split(",") if item.strip())
    if not all(re.fullmatch(r"\*|[a-z0-9.\-:\[\]]+", name) for name in names):
        raise ValueError("host names or addresses, comma-separated, or *")
    return names


def _address_list(value: str) -> tuple[str, ...]:
    from ollama_webmgr.inbound import TrustedProxies

    items = tuple(item.strip() for item in value.split(",") if item.strip())
    try:
        TrustedProxies.parse(items)
    except ValueError:
        raise ValueError("IP addresses or networks, comma-separated, or *") from None
    return items


def _positive_int(value: str) -> int:
    number = _integer(value)
    if number <= 0:
        raise ValueError("a positive integer")
    return number


def _count(value: str) -> int:
    number = _integer(value)
    if number < 0:
        raise ValueError("un entier positif ou nul")
    return number


def _optional(value: str) -> str | None:
    return value.strip() or None


def _optional_web_url(value: str) -> str | None:
    return _web_url(value) if value.strip() else None


def _redis_prefix(value: str) -> str:
    prefix = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", prefix):
        raise ValueError("des lettres, chiffres, « . », « _ » ou « - » (64 au plus)")
    return prefix


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("DEBUG, INFO, WARNING ou ERROR")
    return level


def _default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "ollama-webmgr")


@dataclass(frozen=True)
class Settings:
    ollama_base_url: str = _setting(
        "OLLAMA_BASE_URL",
        "http://localhost:11434",
        "Serveur Ollama principal",
        _url,
    )
    ollama_servers: tuple[str, ...] = _setting(
        "OLLAMA_SERVERS",
        (),
        "Autres serveurs Ollama, séparés par des virgules",
        _url_list,
    )
    redis_url: str | None = _setting(
        "REDIS_URL",
        None,
        "Redis : tâches sur RQ, progression par Redis Streams (vide : tout en mémoire)",
        _optional,
    )
    redis_prefix: str = _setting(
        "REDIS_PREFIX",
        "webmgr",
        "Préfixe des clés Redis ; la file RQ s’appelle `ollama-<préfixe>` (plusieurs installations sur un même Redis)",
        _redis_prefix,
    )
    database_url: str | None = _setting(
        "DATABASE_URL",
        None,
        "Stockage : `sqlite:///…`, `postgresql+psycopg://…` ou `tinydb:///….json`"
        " (vide : SQLite dans le dossier de données)",
        _optional,
    )
    data_dir: str = _setting(
        "WEBMGR_DATA_DIR",
        "",
        "Dossier de données (vide : `$XDG_DATA_HOME/ollama-webmgr`)",
        str.strip,
    )
    secret_key: str | None = _setting(
        "SECRET_KEY",
        None,
        "Clé de signature des sessions et jetons CSRF (vide : aléatoire à chaque démarrage)",
        _optional,
    )
    admin_password: str | None = _setting(
        "ADMIN_PASSWORD",
        None,
        "Mot de passe d’administration : authentification HTTP Basic sur toute l’application (conseillé hors 127.0.0.1)",
        _optional,
    )
    host: str = _setting("WEBMGR_HOST", "127.0.0.1", "Adresse d’écoute", str.strip)
    port: int = _setting("WEBMGR_PORT", 8000, "Port de l’application web", _port)
    gateway_port: int = _setting(
        "GATEWAY_PORT", 11435, "Port de la passerelle compatible Ollama", _port
    )
    gateway_origins: tuple[str, ...] = _setting(
        "GATEWAY_ORIGINS",
        (),
        "Origines web autorisées (CORS) par la passerelle en plus de celles d’Ollama"
        " (localhost…), séparées par des virgules, `*` permis",
        _origin_list,
    )
    allowed_hosts: tuple[str, ...] = _setting(
        "ALLOWED_HOSTS",
        (),
        "Noms d’hôte (en-tête `Host`) acceptés par les deux ports en plus de `localhost`,"
        " `*.localhost` et des adresses de bouclage, séparés par des virgules ; `*` : tous."
        " Vide sur une adresse d’écoute autre que le bouclage : tous, comme Ollama",
        _name_list,
    )
    forwarded_allow_ips: tuple[str, ...] = _setting(
        "FORWARDED_ALLOW_IPS",
        ("127.0.0.1", "::1"),
        "Adresses (ou réseaux) des proxys dont on croit `X-Forwarded-Proto` et"
        " `X-Forwarded-For` (cookie `Secure` derrière TLS, limites par client) ; `*` : tous",
        _address_list,
    )
    max_body_size: int = _setting(
        "MAX_BODY_SIZE",
        32 << 20,
        "Taille maximale d’un corps de requête sur la passerelle (octets, suffixes k, m, g"
        " permis) ; au-delà : 413. Les envois de blobs, relayés sans être gardés, n’y sont"
        " pas soumis ; l’application web refuse au-delà de 1 Mio",
        _size,
    )
    http_head_timeout: float = _setting(
        "HTTP_HEAD_TIMEOUT",
        10.0,
        "Délai pour recevoir l’en-tête complet d’une requête, sur chaque port (secondes)",
        _positive_float,
    )
    http_idle_timeout: float = _setting(
        "HTTP_IDLE_TIMEOUT",
        75.0,
        "Délai d’inactivité d’une connexion maintenue entre deux requêtes (secondes)",
        _positive_float,
    )
    http_max_connections: int = _setting(
        "HTTP_MAX_CONNECTIONS",
        1024,
        "Connexions simultanées par port ; au-delà, la plus inactive est fermée, sinon 503",
        _positive_int,
    )
    connect_timeout: float = _setting(
        "OLLAMA_CONNECT_TIMEOUT",
        5.0,
        "Délai de connexion à Ollama (secondes)",
        _positive_float,
    )
    read_timeout: float = _setting(
        "OLLAMA_READ_TIMEOUT",
        60.0,
        "Délai de lecture pour les appels courts (secondes)",
        _positive_float,
    )
    pull_timeout: float = _setting(
        "OLLAMA_PULL_TIMEOUT",
        600.0,
        "Délai de lecture entre deux lignes d’un téléchargement (secondes)",
        _positive_float,
    )
    pull_stall_timeout: float = _setting(
        "PULL_STALL_TIMEOUT",
        60.0,
        "Un téléchargement dont le nombre d’octets reçus ne progresse plus pendant ce"
        " délai (secondes), ou recule, est relancé automatiquement ; Ollama reprend où"
        " il s’était arrêté (valeur par défaut : la page « Téléchargements » la"
        " remplace)",
        _positive_float,
    )
    pull_max_restarts: int = _setting(
        "PULL_MAX_RESTARTS",
        3,
        "Relances automatiques d’un téléchargement bloqué avant de l’abandonner en"
        " échec (0 : aucune ; valeur par défaut : la page « Téléchargements » la"
        " remplace)",
        _count,
    )
    library_url: str = _setting(
        "OLLAMA_LIBRARY_URL",
        "https://ollama.com",
        "Site de la bibliothèque (recherche, variantes)",
        _web_url,
    )
    registry_url: str = _setting(
        "OLLAMA_REGISTRY_URL",
        "https://registry.ollama.ai",
        "Registre des manifestes (vérification des mises à jour)",
        _web_url,
    )
    seed_cache_url: str | None = _setting(
        "SEED_CACHE_URL",
        None,
        "Adresse de l’application web vue des serveurs Ollama (`http://hôte:port`) :"
        " un modèle envoyé à plusieurs serveurs est téléchargé une fois, puis ils le"
        " prennent dans son cache (vide : `http://127.0.0.1:` et `WEBMGR_PORT`)",
        _optional_web_url,
    )
    seed_cache_max_size: int = _setting(
        "SEED_CACHE_MAX_SIZE",
        20 << 30,
        "Taille maximale du cache des modèles envoyés à plusieurs serveurs (octets,"
        " suffixes k, m, g permis ; 0 : sans limite) ; au-delà, les fichiers les moins"
        " récemment utilisés qu’aucun envoi en cours ne demande sont supprimés",
        _bound,
    )
    models_cache_ttl: float = _setting(
        "MODELS_CACHE_TTL",
        5.0,
        "Durée du cache de la liste des modèles (secondes)",
        _positive_float,
    )
    stats_retention_days: int = _setting(
        "STATS_RETENTION_DAYS",
        30,
        "Conservation des mesures brutes (jours)",
        _integer,
    )
    agent_token: str | None = _setting(
        "AGENT_TOKEN",
        None,
        "Jeton partagé avec les agents de nœud (gRPC ; vide : sans jeton)",
        _optional,
    )
    hardware_interval: float = _setting(
        "HARDWARE_INTERVAL",
        60.0,
        "Intervalle de collecte du matériel auprès des agents (secondes)",
        _positive_float,
    )
    log_level: str = _setting(
        "LOG_LEVEL",
        "INFO",
        "Niveau des journaux (DEBUG, INFO, WARNING, ERROR)",
        _log_level,
    )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, env_file: str | None = ".env"
    ) -> Settings:
        """Read every setting; values in ``environ`` win over the ``.env`` file."""
        source: dict[str, str] = {}
        if env_file and Path(env_file).is_file():
            source.update(
                {k: v for k, v in dotenv_values(env_file).items() if v is not None}
            )
        source.update(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for item in fields(cls):
            env = item.metadata["env"]
            if env not in source:
                continue
            try:
                values[item.name] = item.metadata["parse"](source[env])
            except ValueError as exc:
                raise SettingsError(
                    f"{env} : {exc} attendu, reçu « {source[env]} »"
                ) from None
        return cls(**values)

    @property
    def servers(self) -> tuple[str, ...]:
        """Configured servers: the primary first, duplicates removed."""
        return tuple(dict.fromkeys((self.ollama_base_url, *self.ollama_servers)))

    @property
    def job_queue(self) -> str:
        """The RQ queue of this installation (``ollama-webmgr`` by default)."""
        return f"ollama-{self.redis_prefix}"

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir or _default_data_dir())

    @property
    def seed_cache_address(self) -> str:
        """Where the nodes reach the seed cache (the web port)."""
        return self.seed_cache_url or f"http://127.0.0.1:{self.port}"

    @property
    def seed_cache_path(self) -> Path:
        return self.data_path / "seed-cache"

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_path / 'webmgr.sqlite3'}"


def documented_settings() -> list[tuple[str, str, str]]:
    """``(variable, default, description)`` for every setting, in declaration order."""
    rows = []
    for item in fields(Settings):
        default = "" if item.default is MISSING else item.default
        if isinstance(default, tuple):
            default = ",".join(default)
        rows.append(
            (
                item.metadata["env"],
                "" if default is None else str(default),
                item.metadata["doc"],
            )
        )
    return rows
