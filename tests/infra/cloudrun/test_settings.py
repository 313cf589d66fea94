from __future__ import annotations

import pytest

from infra.cloudrun.exceptions import CloudRunError
from infra.cloudrun.settings import Settings


def test_flags_beat_the_environment_which_beats_defaults() -> None:
    env = {"SLIPWAY_CLOUDRUN_PROJECT": "p", "SLIPWAY_CLOUDRUN_SERVICE": "from-env"}
    s = Settings.from_mapping(env)
    assert (s.project, s.region, s.service) == ("p", "us-central1", "from-env")
    assert s.name == "projects/p/locations/us-central1/services/from-env"
    s = Settings.from_mapping(env, project="q", region="europe-west1", service="flag")
    assert s.name == "projects/q/locations/europe-west1/services/flag"


def test_no_project_says_how_to_give_one() -> None:
    with pytest.raises(CloudRunError, match="SLIPWAY_CLOUDRUN_PROJECT"):
        Settings.from_mapping({})


def test_the_release_verbs_take_project_and_region_flags() -> None:
    from infra.cli import parser
    from infra.cloudrun.commands import settings

    args = parser().parse_args(
        ["status", "--target", "cloudrun", "--project", "p1", "--region", "europe-west1"]
    )
    found = settings(args)
    assert (found.project, found.region) == ("p1", "europe-west1")
