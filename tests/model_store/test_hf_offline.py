"""model_store.convert.hf.offline: the hub offline while a directory converts, and after."""

from __future__ import annotations


def test_converting_offline_gives_the_environment_back(monkeypatch) -> None:
    """A Hugging Face directory is read with the hub offline; a notebook that registered one
    (or a child process it starts later) must not stay offline."""
    import os

    from model_store.convert.hf import offline

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")
    with offline():
        assert os.environ["HF_HUB_OFFLINE"] == "1"
        assert os.environ["TOKENIZERS_PARALLELISM"] == "false"
    assert "HF_HUB_OFFLINE" not in os.environ
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"
