from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from infra.local.exceptions import AliasError, StateError, VersionNotFound
from infra.local.state.store import State, StateStore, Version


def v(model: str = "digits@1") -> Version:
    return Version(number=0, handler="h.handler", code=("/x",), env={}, model=model)


def two_versions() -> State:
    state, _ = State().publish(v("digits@1"))
    state, _ = state.publish(v("digits@2"))
    return state


def test_publish_numbers_versions_and_keeps_them() -> None:
    state = two_versions()
    assert sorted(state.versions) == [1, 2]
    assert state.version(2).model == "digits@2" and state.version(1).created_at
    with pytest.raises(VersionNotFound, match="versions: \\[1, 2\\]"):
        state.version(3)


def test_alias_rules_are_lambdas() -> None:
    state = two_versions()
    with pytest.raises(VersionNotFound):
        state.set_alias("live", 9)
    with pytest.raises(AliasError, match="another version"):
        state.set_alias("live", 1, canary=1, weight=0.5)
    with pytest.raises(AliasError, match=r"outside \[0, 1\]"):
        state.set_alias("live", 1, canary=2, weight=1.5)
    with pytest.raises(AliasError, match="needs --weight"):
        state.set_alias("live", 1, canary=2)
    with pytest.raises(AliasError, match="needs --canary"):
        state.set_alias("live", 1, weight=0.2)
    with pytest.raises(AliasError, match="alias name"):
        state.set_alias("9lives", 1)
    canary = state.set_alias("live", 1, canary=2, weight=0.25).alias("live")
    assert canary.target() == (1, 2, 0.25) and canary.versions() == {1, 2}


def test_rollback_walks_back_through_history() -> None:
    state = two_versions().set_alias("live", 1)
    state = state.set_alias("live", 1, canary=2, weight=0.5).set_alias("live", 2)
    assert state.alias("live").target() == (2, None, 0.0)
    state = state.rollback("live")
    assert state.alias("live").target() == (1, 2, 0.5)
    state = state.rollback("live")
    assert state.alias("live").target() == (1, None, 0.0)
    with pytest.raises(AliasError, match="no earlier target"):
        state.rollback("live")
    with pytest.raises(AliasError, match="does not exist"):
        state.rollback("staging")


def test_versions_in_use() -> None:
    state = two_versions().set_alias("live", 1).set_alias("beta", 1, canary=2, weight=0.1)
    assert state.versions_in_use() == {1, 2}
    assert state.set_alias("beta", 1).versions_in_use() == {1}


def test_store_roundtrip_and_corruption(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    assert store.load() == State()
    with store.change() as box:
        box[0], _ = box[0].publish(v())
        box[0] = box[0].set_alias("live", 1)
    assert store.load() == box[0]
    store.path.write_text("{not json")
    with pytest.raises(StateError, match="not valid JSON"):
        store.load()


def _publish_many(args: tuple[str, int]) -> None:
    root, n = args
    store = StateStore(root)
    for _ in range(n):
        with store.change() as box:
            box[0], _ = box[0].publish(v())


def test_concurrent_cli_calls_lose_nothing(tmp_path: Path) -> None:
    with ProcessPoolExecutor(4) as pool:
        list(pool.map(_publish_many, [(str(tmp_path), 10)] * 4))
    assert sorted(StateStore(tmp_path).load().versions) == list(range(1, 41))


def test_every_write_changes_the_stamp_the_gateway_watches(tmp_path: Path) -> None:
    import os

    store = StateStore(tmp_path)
    with store.change() as box:
        box[0], _ = box[0].publish(v())
    first = store.stamp()
    with store.change() as box:
        box[0] = box[0].set_alias("live", 1)
    # Two writes within one timer tick can carry the same mtime: the stamp must still move.
    os.utime(store.path, ns=(first[1], first[1]))
    assert store.stamp() != first and store.stamp()[1] == first[1]
