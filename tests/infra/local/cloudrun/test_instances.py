"""Cloud Run's autoscaler (infra.local.cloudrun.instances) with instances that start and stop
in process: scale out on demand, packing, the pending window and its 429, failed starts,
min-instances, idle stops. The real containers are in test_serve_cloudrun.py."""

from __future__ import annotations

import asyncio
import time

import pytest

from infra.local.cloudrun.instances import Instance, InstanceFailed, Instances
from infra.local.exceptions import Throttled
from infra.local.state.store import Version


class Launcher:
    """Starts in `start_s` (or fails), stops in `stop_s`; records what it did."""

    def __init__(self, start_s: float = 0.05, stop_s: float = 0.01, fail: bool = False) -> None:
        self.start_s, self.stop_s, self.fail = start_s, stop_s, fail
        self.running: set[str] = set()
        self.most = 0
        self.stops: list[tuple[str, int]] = []

    async def start(self, instance: Instance) -> None:
        self.running.add(instance.name)
        self.most = max(self.most, len(self.running))
        await asyncio.sleep(self.start_s)
        if self.fail:
            raise InstanceFailed(f"the container of revision {instance.revision} exited with 1")

    async def stop(self, instance: Instance, grace_s: int) -> None:
        self.stops.append((instance.name, grace_s))
        await asyncio.sleep(self.stop_s)
        self.running.discard(instance.name)


def version(n: int = 1) -> Version:
    return Version(number=n, handler="h", code=(), env={}, image="sha256:" + "0" * 64)


def scaler(launcher: Launcher, **kw: float) -> Instances:
    opts = {"concurrency": 2, "max_instances": 3, "idle_s": 60.0, "pending_s": 5.0, **kw}
    return Instances(launcher, log=lambda _: None, **opts)  # type: ignore[arg-type]


async def request(pool: Instances, v: Version, work_s: float) -> Instance:
    instance = await pool.acquire(v)
    try:
        assert instance.state == "ready"
        assert instance.in_flight <= pool.concurrency
        await asyncio.sleep(work_s)
        return instance
    finally:
        await pool.release(instance)


def test_scales_out_to_what_the_requests_need_and_no_further() -> None:
    async def run() -> tuple[Launcher, Instances, list[Instance]]:
        launcher = Launcher()
        pool = scaler(launcher)
        done = await asyncio.gather(*(request(pool, version(), 0.2) for _ in range(6)))
        return launcher, pool, done

    launcher, pool, done = asyncio.run(run())
    # 6 requests at concurrency 2: three instances, each with two of them.
    assert pool.started[1] == 3 and launcher.most == 3
    assert sorted(i.served for i in {id(i): i for i in done}.values()) == [2, 2, 2]


def test_packs_requests_on_the_oldest_instance() -> None:
    async def run() -> Instances:
        pool = scaler(Launcher(), concurrency=4)
        for _ in range(5):  # one after the other: one instance serves them all
            await request(pool, version(), 0.0)
        return pool

    pool = asyncio.run(run())
    assert pool.started[1] == 1
    assert [i.served for i in pool.envs] == [5]


def test_at_max_instances_requests_wait_for_a_slot_then_429() -> None:
    async def run() -> tuple[list[object], float]:
        pool = scaler(Launcher(), concurrency=1, max_instances=1, pending_s=0.3)
        v = version()
        first = asyncio.ensure_future(request(pool, v, 1.0))
        await asyncio.sleep(0.1)  # the first holds the only slot for a second
        started = time.monotonic()
        out = await asyncio.gather(request(pool, v, 0.0), return_exceptions=True)
        waited = time.monotonic() - started
        await first
        return out, waited

    out, waited = asyncio.run(run())
    assert isinstance(out[0], Throttled) and out[0].status == 429
    assert "within 0.3 s" in out[0].message and "max-instances 1" in out[0].message
    assert waited >= 0.29


def test_a_waiting_request_takes_the_slot_that_frees() -> None:
    async def run() -> list[Instance]:
        pool = scaler(Launcher(), concurrency=1, max_instances=1, pending_s=5.0)
        return list(await asyncio.gather(*(request(pool, version(), 0.1) for _ in range(4))))

    done = asyncio.run(run())
    assert len({id(i) for i in done}) == 1 and done[0].served == 4


def test_a_failed_start_fails_the_requests_waiting_for_it() -> None:
    async def run() -> tuple[list[object], Instances, Launcher]:
        launcher = Launcher(fail=True)
        pool = scaler(launcher)
        out = await asyncio.gather(
            *(request(pool, version(), 0) for _ in range(3)), return_exceptions=True
        )
        await asyncio.sleep(0.05)
        return out, pool, launcher

    out, pool, launcher = asyncio.run(run())
    assert all(isinstance(e, InstanceFailed) and e.status == 503 for e in out)
    assert "exited with 1" in str(out[0])
    assert not pool.envs and not launcher.running  # nothing half-started is left


def test_min_instances_stay_warm_and_idle_ones_stop_with_sigterm_grace() -> None:
    async def run() -> tuple[Instances, Launcher, list[int]]:
        launcher = Launcher()
        pool = scaler(launcher, min_instances=1, idle_s=0.2)
        pool._lookup = lambda n: version(n)
        pool.retire_unused({1})
        pool.reap()  # revision 1 has traffic: one instance starts before any request
        await asyncio.sleep(0.1)
        counts = [len(pool.of(1))]
        await asyncio.gather(*(request(pool, version(), 0.1) for _ in range(6)))
        counts.append(len(pool.of(1)))
        await asyncio.sleep(0.3)
        pool.reap()  # idle past idle_s: down to min_instances
        await asyncio.sleep(0.05)
        counts.append(len(pool.of(1)))
        pool.retire_unused(set())  # no traffic any more: to zero once idle
        await asyncio.sleep(0.3)
        pool.reap()
        await asyncio.sleep(0.05)
        counts.append(len(pool.of(1)))
        await pool.close()
        return pool, launcher, counts

    pool, launcher, counts = asyncio.run(run())
    assert counts == [1, 3, 1, 0]
    assert pool.stopped[1] == 3 and not launcher.running
    assert {grace for _, grace in launcher.stops} == {10}  # Cloud Run's SIGTERM grace


def test_a_broken_instance_is_stopped_at_once() -> None:
    async def run() -> tuple[Instances, Launcher]:
        launcher = Launcher()
        pool = scaler(launcher)
        instance = await pool.acquire(version())
        await pool.release(instance, broken=True)
        await asyncio.sleep(0.05)
        return pool, launcher

    pool, launcher = asyncio.run(run())
    assert not pool.envs and launcher.stops[0][1] == 0


def test_busy_instances_are_not_stopped_as_idle() -> None:
    async def run() -> int:
        pool = scaler(Launcher(), idle_s=0.0)
        instance = await pool.acquire(version())
        instance.last_used -= 10
        pool.reap()
        alive = len(pool.of(1))
        await pool.release(instance)
        await pool.close()
        return alive

    assert asyncio.run(run()) == 1


@pytest.mark.parametrize(
    "kw", [{"concurrency": 0}, {"max_instances": 0}, {"min_instances": 4}], ids=str
)
def test_settings_are_checked(kw: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        scaler(Launcher(), **kw)


def test_the_front_end_lets_go_of_an_instance_before_its_sigterm() -> None:
    async def run() -> list[str]:
        launcher = Launcher()
        order: list[str] = []

        async def let_go(instance: Instance) -> None:
            order.append(f"let go {instance.name}")

        pool = Instances(
            launcher, concurrency=1, max_instances=1, idle_s=0.0, before_stop=let_go,
            log=lambda _: None,
        )  # fmt: skip
        instance = await request(pool, version(), 0)
        instance.last_used -= 1
        pool.reap()
        await asyncio.sleep(0.05)
        order += [f"stop {name}" for name, _ in launcher.stops]
        return order

    order = asyncio.run(run())
    assert len(order) == 2 and order[0].startswith("let go") and order[1].startswith("stop")


def test_local_cloud_run_splits_traffic_in_whole_percents() -> None:
    from infra.local.cloudrun.platform import LocalCloudRunPlatform
    from infra.release.exceptions import AliasError
    from infra.release.model import target

    assert target("1", "2", 0.1, LocalCloudRunPlatform.limits).weight == 0.1
    with pytest.raises(AliasError, match="steps of 0.01"):
        target("1", "2", 0.125, LocalCloudRunPlatform.limits)
