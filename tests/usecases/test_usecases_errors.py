"""Refusals are typed errors carrying what the UI phrases; one module phrases them.

The gateway settings' reasons are pinned against ``GatewayConfig`` itself (it
decides what a value may be), so the two cannot drift apart silently.
"""

from __future__ import annotations

from typing import Any, get_args

import pytest

from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.errors import (
    InvalidGatewaySetting,
    InvalidGatewaySettings,
    InvalidServerField,
    JobNotRetryable,
    ModelNameTaken,
    ServerNameTaken,
    SettingReason,
    UnknownApiKey,
    UnknownServer,
)
from ollama_webmgr.french.messages import (
    describe_error,
    setting_expectation,
    setting_refusal,
)
from ollama_webmgr.gateway.balancer import STRATEGIES
from ollama_webmgr.gateway.config import GatewayConfig
from ollama_webmgr.usecases import gateway_settings as gs

#: for each reason: values a setting of that kind takes, and values it refuses
SAMPLES: dict[SettingReason, tuple[list[Any], list[Any]]] = {
    "strategy": (["round_robin", "latency"], ["random", 1]),
    "boolean": ([True, False], ["yes", 1]),
    "origins": ([["https://chat.example.com"], []], [["chat.example.com"], "x"]),
    "integer_min_1": ([1, 7], [0, -1, 1.5, True]),
    "integer_min_0": ([0, 7], [-1, 1.5, False]),
    "positive_seconds": ([0.5, 30], [0, -1, "5", True]),
}


def test_every_editable_setting_has_a_kind() -> None:
    assert set(gs.SETTING_KINDS) == set(gs.EDITABLE)


@pytest.mark.parametrize("name", gs.EDITABLE)
def test_a_setting_kind_is_what_gateway_config_accepts(name: str) -> None:
    taken, refused = SAMPLES[gs.SETTING_KINDS[name]]
    for value in taken:
        GatewayConfig().update(**{name: value})
        assert gs.setting_problems({name: value}) == {}
    for value in refused:
        with pytest.raises(ValueError, match=name):
            GatewayConfig().update(**{name: value})
        assert gs.setting_problems({name: value}) == {name: gs.SETTING_KINDS[name]}


def test_every_reason_is_phrased_in_french() -> None:
    for reason in get_args(SettingReason):
        assert setting_expectation(reason).endswith(("attendu", "attendues"))


def test_refused_settings_are_named_in_order_with_the_known_ones() -> None:
    problems = gs.setting_problems({"colour": "blue", "max_attempts": 0, "sticky": 1})
    assert problems == {
        "colour": "unknown_setting",
        "max_attempts": "integer_min_1",
        "sticky": "boolean",
    }
    view = describe_error(InvalidGatewaySettings(problems, known=gs.EDITABLE))
    assert view.status == 400
    assert view.message.startswith("Réglage inconnu : « colour ». Réglages possibles")


def test_the_registry_raises_typed_errors() -> None:
    registry = ServerRegistry([Server("a", "http://a:11434")])
    with pytest.raises(UnknownServer) as unknown:
        registry.get("b")
    with pytest.raises(ServerNameTaken) as taken:
        registry.add(Server("a", "http://b:11434"))
    assert unknown.value.name == "b"
    assert isinstance(unknown.value, KeyError)  # the gateway reads it as a mapping
    assert str(unknown.value) == "unknown server 'b'"
    assert taken.value.name == "a"


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (
            JobNotRetryable("j1", "done"),
            409,
            "Seule une tâche en erreur, annulée ou interrompue peut être relancée.",
        ),
        (ModelNameTaken("a:1b", "gpu"), 409, "Un modèle porte déjà ce nom"),
        (UnknownApiKey("k1"), 404, "Clé inconnue : « k1 »."),
        (ServerNameTaken("gpu"), 409, "Ce nom est déjà utilisé par un autre serveur."),
    ],
)
def test_one_table_phrases_the_errors(
    error: Exception, status: int, message: str
) -> None:
    assert isinstance(error, Exception)
    view = describe_error(error)  # type: ignore[arg-type]
    assert view.status == status
    assert view.message.startswith(message)


def test_gateway_config_refusals_carry_the_setting_reason_and_choices() -> None:
    with pytest.raises(InvalidGatewaySetting) as strategy:
        GatewayConfig().update(strategy="random")
    with pytest.raises(InvalidGatewaySetting) as unknown:
        GatewayConfig().update(colour="blue")
    assert (strategy.value.setting, strategy.value.reason) == ("strategy", "strategy")
    assert strategy.value.allowed == STRATEGIES
    assert (unknown.value.setting, unknown.value.reason) == (
        "colour",
        "unknown_setting",
    )
    refusals = gs.setting_refusals({"strategy": "random", "sticky": True})
    error = InvalidGatewaySettings.of(refusals, known=gs.EDITABLE)
    assert error.choices == {"strategy": STRATEGIES}
    assert setting_refusal(error) == (
        "Valeur invalide pour « strategy » : "
        "least_in_flight, round_robin, weighted ou latency attendu."
    )


def test_a_server_number_out_of_bounds_is_a_typed_error() -> None:
    with pytest.raises(InvalidServerField) as negative:
        Server("a", "http://a:11434", limit=-1)
    assert (negative.value.field, negative.value.value, negative.value.low) == (
        "limit",
        -1,
        0,
    )
    view = describe_error(negative.value)
    assert (view.status, view.code) == (400, "invalid_parameter")
    assert view.message == (
        "Valeur invalide pour « limite de requêtes » : un entier positif ou nul attendu."
    )
