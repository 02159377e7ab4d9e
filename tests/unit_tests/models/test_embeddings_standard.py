"""LangChain's standard unit tests for the embedded embeddings, on a fake sentence-transformers.

``SentenceTransformerEmbeddings`` loads its model in ``__init__``; a unit test
must not import torch, so the ``require`` hook returns a fake
``sentence_transformers`` whose encoder hashes words into a small vector. The
real all-MiniLM-L6-v2 runs the integration suite (``integration_tests/models``).
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from langchain_tests.unit_tests import EmbeddingsUnitTests

from langchain_genprog.models import embeddings as embeddings_module
from langchain_genprog.models.embeddings import SentenceTransformerEmbeddings


class FakeSentenceTransformer:
    """Bag-of-words vectors of 8 dimensions; records how it was loaded."""

    def __init__(self, path: str, *, device: str, local_files_only: bool) -> None:
        self.path, self.device, self.local_files_only = path, device, local_files_only

    def get_embedding_dimension(self) -> int:
        return 8

    def encode(self, texts: list[str], *, normalize_embeddings: bool, **kwargs: Any) -> Any:
        rows = np.zeros((len(texts), 8))
        for row, text in zip(rows, texts, strict=True):
            for word in text.lower().split():
                row[sum(map(ord, word)) % 8] += 1.0
            if normalize_embeddings and row.any():
                row /= np.linalg.norm(row)
        return rows


@pytest.fixture(autouse=True)
def fake_sentence_transformers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    runtime = types.SimpleNamespace(SentenceTransformer=FakeSentenceTransformer)
    monkeypatch.setattr(embeddings_module, "require", lambda module, **kwargs: runtime)
    monkeypatch.setattr(embeddings_module, "default_embeddings_path", lambda: tmp_path)


class TestSentenceTransformerEmbeddingsStandard(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return SentenceTransformerEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {}  # the embedded all-MiniLM-L6-v2 (a fake here)


def test_loads_from_disk_only_on_cpu(tmp_path: Path) -> None:
    model = SentenceTransformerEmbeddings()
    client: FakeSentenceTransformer = model.client
    assert (client.path, client.device, client.local_files_only) == (str(tmp_path), "cpu", True)
    assert model.dimension == 8


def test_vectors_are_plain_floats_and_normalized() -> None:
    model = SentenceTransformerEmbeddings()
    vectors = model.embed_documents(["the park opened", "rain fell"])
    assert all(type(x) is float for row in vectors for x in row)
    np.testing.assert_allclose(np.linalg.norm(np.array(vectors), axis=1), 1.0)
    assert model.embed_documents([]) == []
