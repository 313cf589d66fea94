"""A Cloud Run service's revisions and traffic split in the release engine's terms.

Revisions as versions (`version_info`), the split as an alias's `Target` (`target_of`), and
the traffic entries a write sends (`entry`, `pinned`). google-cloud-run is imported where it
is used: it is the `cloudrun` extra's, and takes 0.3 s (-X importtime).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.cloudrun.exceptions import CloudRunError
from infra.release.model import Target, VersionInfo

if TYPE_CHECKING:
    from google.cloud import run_v2

DESCRIPTION = "slipway.dev/description"  # the revision annotation holding its description


def short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def revision_number(revision: str, service: str) -> int:
    suffix = revision.removeprefix(service + "-")
    return int(suffix) if suffix.isdigit() else 0


def version_info(r: run_v2.Revision) -> VersionInfo:
    env = {e.name: e.value for c in r.containers for e in c.env}
    return VersionInfo(
        short(r.name),
        env.get("SLIPWAY_MODEL", "?"),
        env.get("SLIPWAY_MODEL_SHA256", ""),
        created=r.create_time.isoformat() if r.create_time else "",
        description=r.annotations.get(DESCRIPTION, ""),
    )


def entry(revision: str, percent: int, tag: str) -> run_v2.TrafficTarget:
    from google.cloud import run_v2

    return run_v2.TrafficTarget(
        type_=run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION,
        revision=revision,
        percent=percent,
        tag=tag,
    )


def pinned(t: run_v2.TrafficTarget, svc: run_v2.Service) -> run_v2.TrafficTarget:
    from google.cloud import run_v2

    if t.type_ == run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST:
        return entry(short(svc.latest_ready_revision), t.percent, t.tag)
    return t


def target_of(svc: run_v2.Service, alias: str) -> Target | None:
    """The split as a Target: the primary is the revision tagged `alias` (else the larger)."""
    from google.cloud import run_v2

    shares: dict[str, int] = {}
    primary = None
    for t in svc.traffic:
        rev = (
            short(svc.latest_ready_revision)
            if t.type_ == run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
            else t.revision
        )
        if t.percent:
            shares[rev] = shares.get(rev, 0) + t.percent
        if t.tag == alias and t.percent:
            primary = rev
    if not shares:
        return None
    if len(shares) > 2:
        raise CloudRunError(
            f"service traffic is split across {len(shares)} revisions ({shares}); the release "
            "verbs handle at most two: set it with `slipway alias set`"
        )
    ordered = sorted(shares, key=lambda r: (r != primary, -shares[r]))
    if len(ordered) == 1:
        return Target(ordered[0])
    return Target(ordered[0], ordered[1], shares[ordered[1]] / 100)
