"""Click's own words in French (« Utilisation : », « Afficher cette aide »…).

Click reads every message through ``gettext`` when it prints it (its modules
call ``_()`` and ``ngettext()``), but only from the process-wide catalogue the
locale environment selects, and none ships in French. The product speaks French
whatever the locale, so ``install()`` points those two names of Click's modules
at this catalogue. ``tests/test_cli.py`` runs every subcommand's help and the
usual mistakes through the real command line and fails on English, so a Click
upgrade that renames a message shows up there.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ollama_webmgr.errors import WebmgrError

CLICK_MODULES = (
    "click.core",
    "click.decorators",
    "click.exceptions",
    "click.formatting",
    "click.parser",
    "click.termui",
    "click.types",
    "click.utils",
)

MESSAGES: dict[str, str] = {
    "Usage:": "Utilisation :",
    # Click adds the colon of a heading itself: the space makes it French
    "Options": "Options ",
    "Commands": "Commandes ",
    "Positional arguments": "Arguments ",
    "Show this message and exit.": "Afficher cette aide et quitter.",
    "Show the version and exit.": "Afficher la version et quitter.",
    "%(prog)s, version %(version)s": "%(prog)s, version %(version)s",
    "default: {default}": "par défaut : {default}",
    "required": "obligatoire",
    "env var: {var}": "variable d’environnement : {var}",
    "(dynamic)": "(dynamique)",
    "deprecated": "obsolète",
    "Error: {message}": "Erreur : {message}",
    "Try '{command} {option}' for help.": "Essayez « {command} {option} » pour l’aide.",
    "Aborted!": "Interrompu.",
    "Missing command.": "Sous-commande manquante.",
    "No such command {name!r}.": "Sous-commande inconnue : {name!r}.",
    "No such option {name!r}.": "Option inconnue : {name!r}.",
    "Option {name!r} does not take a value.": "L’option {name!r} ne prend pas de valeur.",
    "Missing option": "Option manquante",
    "Missing argument": "Argument manquant",
    "Missing parameter": "Paramètre manquant",
    "Missing {param_type}": "{param_type} manquant",
    "Missing parameter: {param_name}": "Paramètre manquant : {param_name}",
    "Invalid value: {message}": "Valeur invalide : {message}",
    "Invalid value for {param_hint}: {message}": (
        "Valeur invalide pour {param_hint} : {message}"
    ),
    "{value!r} is not a valid {number_type}.": (
        "{value!r} n’est pas un {number_type} valide."
    ),
    "{value} is not in the range {range}.": "{value} n’est pas dans l’intervalle {range}.",
    "{name} {filename!r} does not exist.": "{name} {filename!r} n’existe pas.",
    "{name} {filename!r} is a file.": "{name} {filename!r} est un fichier.",
    "{name} {filename!r} is a directory.": "{name} {filename!r} est un dossier.",
    "{name} {filename!r} is not readable.": "{name} {filename!r} n’est pas lisible.",
    "{name} {filename!r} is not writable.": (
        "{name} {filename!r} n’est pas accessible en écriture."
    ),
    "file": "fichier",
    "directory": "dossier",
    "path": "chemin",
    "Choose from:\n\t{choices}": "Choix possibles :\n\t{choices}",
    "Error: invalid input": "Erreur : saisie invalide",
    "unknown error": "erreur inconnue",
}

PLURALS: dict[str, tuple[str, str]] = {
    "Got unexpected extra argument ({args})": (
        "Argument inattendu ({args})",
        "Arguments inattendus ({args})",
    ),
    "Option {name!r} requires an argument.": (
        "L’option {name!r} attend une valeur.",
        "L’option {name!r} attend {nargs} valeurs.",
    ),
    "Did you mean {possibility}?": (
        "Vouliez-vous dire {possibility} ?",
        "(Vouliez-vous dire l’une de celles-ci : {possibilities} ?)",
    ),
    "{value!r} is not {choice}.": (
        "{value!r} n’est pas {choice}.",
        "{value!r} n’est pas parmi {choices}.",
    ),
}


def gettext(message: str) -> str:
    """The French text of one of Click's messages (unknown ones unchanged).

    >>> gettext("Usage:"), gettext("Something new")
    ('Utilisation :', 'Something new')
    """
    return MESSAGES.get(message, message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """
    >>> ngettext("Got unexpected extra argument ({args})", "", 2)
    'Arguments inattendus ({args})'
    """
    french = PLURALS.get(singular)
    if french is None:
        return singular if count == 1 else plural
    return french[0] if count == 1 else french[1]


#: the names of Click's value types, shown as metavars (``--port ENTIER``) and in
#: messages (« 'abc' n’est pas un entier valide »)
TYPE_NAMES = {
    "STRING": "texte",
    "INT": "entier",
    "FLOAT": "nombre",
    "BOOL": "booléen",
    "UUID": "uuid",
}
SUBCOMMAND_METAVAR = "COMMANDE [ARGUMENTS]..."


def install() -> None:
    """Make Click speak French (idempotent)."""
    import click.types

    for attribute, french in TYPE_NAMES.items():
        getattr(click.types, attribute).name = french
    click.types.IntRange.name = "entier"
    click.types.FloatRange.name = "nombre"
    for name in CLICK_MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "_"):
            module._ = gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext  # type: ignore[attr-defined]


#: the English phrases of errors a command can end with (the domain words its
#: messages in English; each edge translates)
PHRASES = (
    ("cannot listen on", "impossible d’écouter sur"),
    ("cannot serve the models on", "impossible de servir les modèles sur"),
    ("(port in use or bad host)", "(port occupé ou hôte invalide)"),
)


def french_error(exc: WebmgrError) -> str:
    """What went wrong, in French, for the errors a command line meets."""
    from ollama_webmgr import errors

    if isinstance(exc, errors.StoreNotFound):
        return (
            f"aucune base à l’emplacement {exc.path} : vérifiez le chemin ;"
            " rien n’a été créé ni copié."
        )
    if isinstance(exc, errors.InvalidStoreUrl):
        return (
            f"adresse de base non reconnue : « {exc.url} » ; utilisez"
            " sqlite:///chemin, tinydb:///chemin ou postgresql+psycopg://…"
        )
    if isinstance(exc, errors.StoreUnavailable):
        return f"impossible d’ouvrir la base {exc.location} : {exc.detail}"
    if isinstance(exc, errors.StoreError):
        return f"base de données : {exc.message}"
    text = exc.message
    for english, french in PHRASES:
        text = text.replace(english, french)
    return text
