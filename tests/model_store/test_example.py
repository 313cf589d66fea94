"""`slipway example --seed N` trains another model for each seed (issue 28)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from infra.cli import main
from model_store.backends.local import LocalStore
from model_store.example import train


def test_each_seed_registers_another_version(tmp_path: Path, capsys) -> None:
    """The documented way to make versions 2 and 3 for a release demo."""
    store = ["--store", str(tmp_path)]
    for seed, ref in ((None, "digits@1"), ("1", "digits@2"), ("2", "digits@3")):
        seed_args = ["--seed", seed] if seed else []
        assert main(["example", *store, *seed_args]) == 0
        assert f"{ref} registered" in capsys.readouterr().out
    assert main(["example", *store, "--seed", "2"]) == 0
    assert "digits@3 already registered (identical bytes)" in capsys.readouterr().out
    shas = {m.sha256 for m in LocalStore(tmp_path).versions("digits")}
    assert len(shas) == 3


def test_the_seed_draws_the_training_rows_and_the_held_out_set_stays() -> None:
    first, x1, y1 = train(1)
    again, x1b, _ = train(1)
    other, x2, y2 = train(2)
    np.testing.assert_array_equal(x1, x2)  # one held-out set: accuracies compare
    np.testing.assert_array_equal(y1, y2)
    coef = first.steps[-1][1].coef_
    np.testing.assert_array_equal(coef, again.steps[-1][1].coef_)  # deterministic per seed
    assert not np.allclose(coef, other.steps[-1][1].coef_, atol=1e-3)
    assert (first.predict(x1) == y1).mean() > 0.9 and (other.predict(x2) == y2).mean() > 0.9
