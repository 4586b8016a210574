"""The LangChain adapter, with the real langchain-core: vectors, a vector store, the extra."""

from __future__ import annotations

import asyncio
import sys

import numpy as np
import pytest
from m2v_format import MissingDependencyError
from m2v_infer import StaticModel, langchain_embeddings


def test_documents_and_queries_are_the_models_vectors(potion: StaticModel) -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.embeddings import Embeddings

    embeddings = langchain_embeddings(potion)
    assert isinstance(embeddings, Embeddings)
    texts = ["the cat sat on the mat", "stock markets fell sharply", ""]
    documents = embeddings.embed_documents(texts)
    assert np.array_equal(np.asarray(documents, dtype=np.float32), potion.encode(texts))
    query = embeddings.embed_query("a cat on a mat")
    assert np.array_equal(np.asarray(query, dtype=np.float32), potion.encode("a cat on a mat"))
    cut = langchain_embeddings(potion, dimensions=64).embed_query("a cat")
    assert len(cut) == 64


def test_a_langchain_vector_store_finds_the_right_document(potion: StaticModel) -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.vectorstores import InMemoryVectorStore

    store = InMemoryVectorStore(embedding=langchain_embeddings(potion))
    store.add_texts(
        [
            "The central bank raised interest rates again.",
            "The striker scored twice in the second half.",
            "The new phone has a faster chip and a better camera.",
        ]
    )
    found = store.similarity_search("football match goals", k=1)
    assert found[0].page_content.startswith("The striker")


def test_async_methods(potion: StaticModel) -> None:
    pytest.importorskip("langchain_core")
    embeddings = langchain_embeddings(potion)
    # asyncio.run, not a pytest-asyncio marker: the slim install has no pytest-asyncio
    assert asyncio.run(embeddings.aembed_query("hello")) == embeddings.embed_query("hello")
    documents = asyncio.run(embeddings.aembed_documents(["a", "b"]))
    assert documents == embeddings.embed_documents(["a", "b"])


def test_without_langchain_core_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "langchain_core", None)
    monkeypatch.setitem(sys.modules, "langchain_core.embeddings", None)
    monkeypatch.delitem(sys.modules, "m2v_infer._langchain", raising=False)
    with pytest.raises(MissingDependencyError, match=r'pip install "m2v-infer\[langchain\]"'):
        langchain_embeddings()
