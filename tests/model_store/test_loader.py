"""model_store.loader.runner: the session's compiled run, the same outputs as the public one."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnxruntime as ort
import pytest

from model_store.loader import LoadedModel, load_model, runner


@pytest.fixture(scope="module")
def loaded(example_store: Path) -> LoadedModel:
    from model_store.resolve import fetch

    manifest, data = fetch(None, store_root=str(example_store))
    return load_model(data, manifest)


def test_the_compiled_run_gives_the_public_runs_outputs(
    loaded: LoadedModel, digits_test_rows: np.ndarray
) -> None:
    model = loaded
    rows = np.asarray(digits_test_rows, dtype=np.float32)[:17]
    feeds = {model.input_names[0]: rows}
    ours = model.run(feeds)
    public = model.session.run(list(model.output_names), feeds)
    assert len(ours) == len(public) == len(model.output_names)
    for a, b in zip(ours, public, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_the_compiled_run_refuses_what_onnxruntime_refuses(loaded: LoadedModel) -> None:
    model = loaded
    name = model.input_names[0]
    with pytest.raises(Exception) as err:
        model.run({name: np.zeros((1, 3), dtype=np.float32)})
    assert type(err.value).__name__ in ("InvalidArgument", "Fail", "RuntimeException")
    with pytest.raises(Exception, match="(?i)missing|input"):
        model.run({})


def test_without_the_compiled_session_the_public_run_is_used(loaded: LoadedModel) -> None:
    session = loaded.session
    calls: list[list[str]] = []

    def public(names: list[str], feeds: dict[str, object]) -> list[object]:
        calls.append(names)
        return session.run(names, feeds)

    run = runner(SimpleNamespace(run=public), loaded.output_names)
    feeds = {loaded.input_names[0]: np.zeros((2, 64), dtype=np.float32)}
    assert len(run(feeds)) == len(loaded.output_names)
    assert calls == [list(loaded.output_names)]
    assert isinstance(session, ort.InferenceSession)
