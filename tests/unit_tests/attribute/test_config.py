"""The MExGen configuration objects: one validated, frozen set of options for engine and node."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from langchain_genprog.attribute import MExGenAttributor, MExGenAttributorConfig, MExGenConfig
from langchain_genprog.attribute.mexgen import CLIME, Budget, LeaveOneOut, MExGen
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.ground.measure import leaf_measurer
from langchain_genprog.segment.sources import Sources

from .fakes import PLAYERS, GameScalarizer, KeywordScorer, linear_game
from .test_mexgen_node import DOCS, SUPPORT, answer_sentences


def keyword_scorer() -> KeywordScorer:
    return KeywordScorer(SUPPORT, [(s.start, s.end) for s in answer_sentences()])


def test_defaults_of_the_engine_and_of_the_attributor() -> None:
    engine, node = MExGenConfig(), MExGenAttributorConfig()
    assert (engine.refine_method, engine.sampling) == (None, "constrained")  # MExGen's
    assert (node.refine_method, node.sampling) == ("loo", "orthogonal")  # tuned for citing
    assert isinstance(node, MExGenConfig)  # the engine takes the node's config as it is
    assert node.context_template.instruction == node.instruction


def test_the_config_is_frozen_and_replace_validates() -> None:
    config = MExGenAttributorConfig(top_k=2)
    with pytest.raises(ValidationError):
        config.top_k = 5  # type: ignore[misc]
    assert config.replace(top_k=4).top_k == 4 and config.top_k == 2
    with pytest.raises(InvalidInputError, match="top_k must be at least 1"):
        config.replace(top_k=0)
    with pytest.raises(TypeError, match="replace"):
        config.replace(topk=1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"levels": ()}, "levels must name at least one level"),
        ({"levels": ("phrase", "sentence")}, "coarse to fine"),
        ({"method": "shap"}, "unknown attribution method 'shap'"),
        ({"sampling": "sobol"}, "unknown C-LIME sampling"),
        ({"oversampling": -1.0}, "oversampling must be positive"),
        ({"refine_top_k": 0}, "refine_top_k must be at least 1"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"seed": "three"}, "invalid MExGen options: seed"),
        ({"budget": {"max_calls": 0}}, "invalid MExGen options: budget.max_calls"),
        ({"method": object()}, "invalid MExGen options: method"),
    ],
)
def test_bad_options_raise_typed_errors_with_their_messages(options, message) -> None:
    with pytest.raises(InvalidInputError, match=message):
        MExGenConfig(**options)


def test_unknown_options_raise_like_a_misspelt_keyword() -> None:
    with pytest.raises(TypeError, match=r"MExGenConfig\(\) got an unexpected keyword argument"):
        MExGenConfig(method_name="loo")
    with pytest.raises(TypeError, match=r"MExGen\(\) got an unexpected keyword argument 'x'"):
        MExGen(GameScalarizer([], lambda p: [0.0]), x=1)
    with pytest.raises(TypeError, match=r"MExGenAttributor\(\) got an unexpected keyword"):
        MExGenAttributor(keyword_scorer(), topk=1)


def test_method_objects_are_accepted_and_named_methods_built() -> None:
    clime = CLIME(sampling="bernoulli")
    config = MExGenConfig(method=clime, refine_method="loo", levels=["sentence"])
    coarse, fine = config.attribution_methods()
    assert coarse is clime and isinstance(fine, LeaveOneOut)
    assert config.levels == ("sentence",)  # lists become tuples


def test_engine_keyword_form_and_config_form_measure_the_same() -> None:
    players = PLAYERS[:5]
    weights = {p: [float(i + 1)] for i, p in enumerate(players)}
    segments = [f"{p}." for p in players]
    options = {"method": "clime", "levels": ("sentence",), "oversampling": 2.0, "seed": 3}
    by_keywords = MExGen(GameScalarizer(players, linear_game(weights)), **options)
    by_config = MExGen(GameScalarizer(players, linear_game(weights)), MExGenConfig(**options))
    assert by_keywords.config == by_config.config
    np.testing.assert_array_equal(
        by_keywords.explain(segments).matrix(), by_config.explain(segments).matrix()
    )


def test_attributor_keyword_form_and_config_form_cite_the_same() -> None:
    options = {"method": "loo", "levels": ("sentence",), "top_k": 1}
    sources = Sources.from_documents(DOCS)
    a = MExGenAttributor(keyword_scorer(), **options)
    b = MExGenAttributor(keyword_scorer(), config=MExGenAttributorConfig(**options))
    assert a.config == b.config and a.name == b.name == "mexgen-loo"
    first = a.attribute(answer_sentences(), sources)
    second = b.attribute(answer_sentences(), sources)
    assert first.matrix == second.matrix
    assert [s.citations for s in first.sentences] == [s.citations for s in second.sentences]


def test_keywords_replace_fields_of_the_config() -> None:
    config = MExGenAttributorConfig(method="loo", budget=Budget(max_calls=9))
    attributor = MExGenAttributor(keyword_scorer(), config=config, top_k=1)
    assert attributor.config.top_k == 1 and attributor.config.budget == Budget(max_calls=9)
    with pytest.raises(InvalidInputError, match="top_k must be at least 1"):
        MExGenAttributor(keyword_scorer(), config=config, top_k=0)


def test_an_engine_config_gives_the_options_it_names_over_the_attributor_defaults() -> None:
    attributor = MExGenAttributor(keyword_scorer(), config=MExGenConfig(method="loo"))
    assert isinstance(attributor.config, MExGenAttributorConfig)
    assert attributor.config.method == "loo"
    assert attributor.config.sampling == "orthogonal"  # not the engine's default


def test_leaf_measurer_config() -> None:
    config = leaf_measurer(keyword_scorer(), neighbours=2).config
    assert (config.method, config.levels, config.max_candidates) == ("loo", ("sentence",), 1)
    assert (config.neighbours, config.lexical_top_m) == (2, 0)


def test_fine_per_output_fits_the_designs_columns() -> None:
    from langchain_genprog.attribute.mexgen_config import MExGenAttributorConfig
    from langchain_genprog.errors import InvalidInputError

    assert MExGenAttributorConfig(fine_per_output=8).fine_per_output == 8
    MExGenAttributorConfig(fine_per_output=None)
    MExGenAttributorConfig(fine_per_output=15)  # 16 rows: 15 columns
    for bad in (0, 16):
        with pytest.raises(InvalidInputError, match="fine_per_output"):
            MExGenAttributorConfig(fine_per_output=bad)
    with pytest.raises(InvalidInputError, match="between 1 and 15"):
        MExGenAttributorConfig(fine_rows=20, fine_per_output=16)  # 20 rows: one 16-row block


def test_auto_per_output_is_round_robin_on_short_answers_and_8_above() -> None:
    from langchain_genprog.attribute.mexgen_config import MExGenAttributorConfig

    config = MExGenAttributorConfig()
    assert config.fine_per_output == "auto"
    assert [config.per_output_for(a) for a in (1, 4, 5, 12)] == [None, None, 8, 8]
    # a smaller design caps it at its columns; an explicit choice is kept whatever the length
    assert MExGenAttributorConfig(fine_rows=8).per_output_for(5) == 7
    assert MExGenAttributorConfig(fine_per_output=5).per_output_for(2) == 5
    assert MExGenAttributorConfig(fine_per_output=None).per_output_for(9) is None
    with pytest.raises(InvalidInputError, match="fine_per_output"):
        MExGenAttributorConfig(fine_per_output="many")
