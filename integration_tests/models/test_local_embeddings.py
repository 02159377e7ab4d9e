from __future__ import annotations

import numpy as np
import pytest

from langchain_genprog.models import default_embeddings

pytestmark = pytest.mark.slow


def test_embeddings_dimension_and_similarity_order() -> None:
    embeddings = default_embeddings()
    assert embeddings is default_embeddings()
    assert embeddings.dimension == 384
    query = np.array(embeddings.embed_query("When does the new park open?"))
    docs = np.array(
        embeddings.embed_documents(
            [
                "The riverside park will open to the public in late May.",
                "The council debated the cost of the park.",
                "Quarterly earnings of the chip maker beat expectations.",
            ]
        )
    )
    assert query.shape == (384,) and docs.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    similarity = docs @ query
    assert similarity[0] > similarity[1] > similarity[2]
    assert embeddings.embed_documents([]) == []
