"""``options`` as Ollama's ``Options.FromMap``: nulls and unknown keys skipped,
wrong types a 500 naming the option and its Go type."""

from __future__ import annotations

import ollama
import pytest
from sim_nodes import Node

# what LangChain's OllamaEmbeddings sends on every call
LANGCHAIN_NULLS = dict.fromkeys(
    (
        "mirostat",
        "mirostat_eta",
        "mirostat_tau",
        "num_ctx",
        "num_gpu",
        "num_thread",
        "repeat_last_n",
        "repeat_penalty",
        "temperature",
        "stop",
        "tfs_z",
        "top_k",
        "top_p",
    )
)


def test_null_and_unknown_options_are_skipped(node: Node) -> None:
    client = ollama.Client(host=node.url)
    embedded = client.embed("all-minilm", ["a", "b"], options=LANGCHAIN_NULLS)
    legacy = client.embeddings("all-minilm", "a", options=LANGCHAIN_NULLS)
    chat = client.chat(
        "llama3.2",
        [{"role": "user", "content": "hi"}],
        options={**LANGCHAIN_NULLS, "num_predict": 2, "flash": True},
    )
    assert len(embedded.embeddings) == 2
    assert len(legacy.embedding) == 384
    assert chat.done_reason == "length"  # num_predict kept, the rest skipped


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"num_ctx": "big"}, 'option "num_ctx" must be of type integer'),
        ({"temperature": "hot"}, 'option "temperature" must be of type float32'),
        ({"use_mmap": "yes"}, 'option "use_mmap" must be of type boolean'),
        ({"stop": "END"}, 'option "stop" must be of type array'),
        ({"stop": ["END", 3]}, 'option "stop" must be of an array of strings'),
        ({"seed": True}, 'option "seed" must be of type integer'),
    ],
)
def test_wrong_option_types_answer_500(
    node: Node, options: object, message: str
) -> None:
    with node.http() as http:
        for path, body in (
            ("/api/generate", {"model": "llama3.2", "prompt": "hi"}),
            ("/api/embed", {"model": "all-minilm", "input": "hi"}),
        ):
            answer = http.post(path, json={**body, "options": options})
            assert (answer.status_code, answer.json()) == (500, {"error": message})
