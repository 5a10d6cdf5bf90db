"""LangChain's Ollama integration (``langchain-ollama``): chat, streaming,
structured output, tools in an agent loop, reasoning, embeddings, completions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import pytest
from clients_support import CHAT, EMBEDDER, THINKER, Target, is_unit_vector
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_ollama import ChatOllama, OllamaEmbeddings, OllamaLLM
from pydantic import BaseModel, Field


class Recipe(BaseModel):
    name: str
    servings: int = Field(ge=2)
    steps: list[str] = Field(min_length=2)
    course: Literal["starter", "main", "dessert"]


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.fixture
def made(target: Target) -> Iterator[Any]:
    """Build LangChain models on ``target``; their HTTP clients are closed after."""
    built: list[Any] = []

    def make(kind: type[Any], **options: Any) -> Any:
        model = kind(base_url=target.url, **options)
        built.append(model)
        return model

    yield make
    for model in built:
        model._client._client.close()


def test_chat_invoke_and_stream(made: Any) -> None:
    llm = made(ChatOllama, model=CHAT)
    answer = llm.invoke("Why is the sky blue?")
    assert isinstance(answer, AIMessage)
    assert answer.content
    assert answer.response_metadata["done_reason"] == "stop"
    chunks = list(llm.stream("Why is the sky blue?"))
    assert len(chunks) > 2
    assert "".join(str(c.content) for c in chunks) == answer.content


@pytest.mark.parametrize("method", ["json_schema", "json_mode"])
def test_structured_output(made: Any, method: str) -> None:
    llm = made(ChatOllama, model=CHAT)
    if method == "json_mode":
        # JSON mode promises a JSON object, not a schema: a dict schema parses it as is
        loose = {"title": "anything", "type": "object"}
        parsed = llm.with_structured_output(loose, method="json_mode").invoke("JSON")
        assert isinstance(parsed, dict)
        assert parsed
    else:
        recipe = llm.with_structured_output(Recipe).invoke("A recipe please")
        assert isinstance(recipe, Recipe)
        assert recipe.servings >= 2
        assert len(recipe.steps) >= 2


def test_tools_agent_loop(made: Any) -> None:
    llm = made(ChatOllama, model=CHAT).bind_tools([add])
    messages: list[BaseMessage] = [HumanMessage("Use add on 19 and 23")]
    first = llm.invoke(messages)
    assert [(c["name"], c["args"]) for c in first.tool_calls] == [
        ("add", {"a": 19, "b": 23})
    ]
    messages.append(first)
    for call in first.tool_calls:
        result = add.invoke(call["args"])
        messages.append(ToolMessage(str(result), tool_call_id=call["id"]))
    final = llm.invoke(messages)
    assert not final.tool_calls
    assert "42" in str(final.content)


def test_reasoning(made: Any) -> None:
    thinking = made(ChatOllama, model=THINKER, reasoning=True).invoke("Why?")
    assert thinking.additional_kwargs.get("reasoning_content")
    assert thinking.content
    plain = made(ChatOllama, model=THINKER, reasoning=False).invoke("Why?")
    assert not plain.additional_kwargs.get("reasoning_content")


def test_embeddings_with_the_null_options_it_sends(made: Any) -> None:
    embeddings = made(OllamaEmbeddings, model=EMBEDDER)
    documents = embeddings.embed_documents(["first", "second"])
    query = embeddings.embed_query("first")
    assert [len(v) for v in documents] == [384, 384]
    assert query == documents[0]
    assert is_unit_vector(query)


def test_completion_llm(made: Any) -> None:
    text = made(OllamaLLM, model=CHAT).invoke("Why is the sky blue?")
    assert isinstance(text, str)
    assert text
