"""`slipway image push`: references, archives, ECR login, and real pushes to a loopback
registry pulled back with the same digest (tests named test_registry_* run skopeo/podman
against docker-registry: integration tier)."""

from __future__ import annotations

import base64
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from infra.cli import main
from infra.image import push as push_mod
from infra.image.exceptions import ImageError, PushError
from infra.image.push import (
    archive_manifest_digest,
    ecr_login,
    find_tool,
    parse_destination,
    push,
)
from tests.infra.image.conftest import PASSWORD, USER, Registry, make_oci_archive

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


# --- unit: references, archives, tools, ECR login ---------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "path", "tag", "loopback", "region"),
    [
        (f"{ECR}/slipway:v1", ECR, "slipway", "v1", False, "eu-west-1"),
        (f"docker://{ECR}/team/slipway:v1", ECR, "team/slipway", "v1", False, "eu-west-1"),
        ("127.0.0.1:5000/slipway:latest", "127.0.0.1:5000", "slipway", "latest", True, None),
        ("localhost/a/b:1.0", "localhost", "a/b", "1.0", True, None),
        ("[::1]:5000/slipway:x", "[::1]:5000", "slipway", "x", True, None),
        (
            "europe-docker.pkg.dev/p/r/slipway:v2",
            "europe-docker.pkg.dev",
            "p/r/slipway",
            "v2",
            False,
            None,
        ),
    ],
)
def test_destinations_parse(
    text: str, host: str, path: str, tag: str, loopback: bool, region: str | None
) -> None:
    dest = parse_destination(text)
    assert (dest.host, dest.path, dest.tag, dest.loopback) == (host, path, tag, loopback)
    assert (dest.ecr["region"] if dest.ecr else None) == region


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("slipway:v1", "not REGISTRY/REPO:TAG"),
        ("library/slipway:v1", "names no registry host"),
        ("127.0.0.1:5000/slipway", "has no tag"),
        ("127.0.0.1:5000/Slipway:v1", "lowercase repository"),
        ("127.0.0.1:5000/slipway:v1 extra", "not REGISTRY/REPO:TAG"),
    ],
)
def test_bad_destinations_are_refused_clearly(text: str, says: str) -> None:
    with pytest.raises(PushError, match=says):
        parse_destination(text)


def test_a_huge_destination_is_not_echoed_whole() -> None:
    with pytest.raises(PushError) as err:
        parse_destination("x" * 100_000)
    assert len(str(err.value)) < 500


def test_the_fixture_archive_is_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a.tar", tmp_path / "b.tar"
    assert make_oci_archive(a) == make_oci_archive(b) == archive_manifest_digest(a)
    assert a.read_bytes() == b.read_bytes()
    assert make_oci_archive(tmp_path / "c.tar", b"other") != archive_manifest_digest(a)


def test_archives_that_are_not_oci_are_refused_before_any_tool_runs(tmp_path: Path) -> None:
    with pytest.raises(PushError, match="no such file.*slipway build --image"):
        archive_manifest_digest(tmp_path / "missing.tar")
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(PushError, match="not a readable OCI archive"):
        archive_manifest_digest(junk)
    docker_save = tmp_path / "docker.tar"
    with tarfile.open(docker_save, "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        tar.addfile(info)
    with pytest.raises(PushError, match="not an OCI archive.*docker-archive"):
        archive_manifest_digest(docker_save)
    with pytest.raises(PushError, match="not an OCI archive"):
        push(docker_save, "127.0.0.1:5000/slipway:v1", tool="skopeo")


def test_push_refuses_a_digest_destination(oci_archive: tuple[Path, str]) -> None:
    with pytest.raises(PushError, match="push to a tag"):
        push(oci_archive[0], f"127.0.0.1:5000/slipway@{oci_archive[1]}")


def test_tools_are_preferred_skopeo_podman_docker() -> None:
    assert find_tool(lambda t: "/usr/bin/" + t) == "skopeo"
    assert find_tool(lambda t: None if t == "skopeo" else "/x") == "podman"
    assert find_tool(lambda t: "/x" if t == "docker" else None) == "docker"
    with pytest.raises(PushError, match="make image-tools"):
        find_tool(lambda t: None)


def test_ecr_login_decodes_the_authorization_token() -> None:
    with mock_aws():
        client = boto3.client("ecr", region_name="eu-west-1")
        user, password = ecr_login("eu-west-1", client)
    assert user == "AWS"
    assert password  # moto's token is AWS:<account>-auth-token


def test_ecr_login_failures_are_clear() -> None:
    client = boto3.client("ecr", region_name="eu-west-1")
    with Stubber(client) as stub:
        stub.add_client_error("get_authorization_token", "AccessDeniedException", "no ecr")
        with pytest.raises(PushError, match="ECR login in eu-west-1 failed.*AccessDenied"):
            ecr_login("eu-west-1", client)
    with Stubber(client) as stub:
        token = base64.b64encode(b"no-colon-here").decode()
        stub.add_response(
            "get_authorization_token", {"authorizationData": [{"authorizationToken": token}]}
        )
        with pytest.raises(PushError, match="not USER:PASSWORD"):
            ecr_login("eu-west-1", client)


def test_an_ecr_push_logs_in_with_the_registry_region_and_hands_the_tool_an_authfile(
    oci_archive: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ECR path up to the tool: the login is ECR's, for the host's region, and the
    credentials reach skopeo in a 0600 auth file, not on its command line."""
    seen: dict[str, Any] = {}

    def fake_run(cmd: list[str], what: str, env: dict[str, str] | None = None) -> str:
        authfile = Path(cmd[cmd.index("--dest-authfile") + 1])
        seen["cmd"], seen["mode"] = cmd, authfile.stat().st_mode & 0o777
        seen["auth"] = json.loads(authfile.read_text())
        Path(cmd[cmd.index("--digestfile") + 1]).write_text(oci_archive[1])
        return ""

    monkeypatch.setattr(push_mod, "_run", fake_run)
    monkeypatch.setattr(push_mod.shutil, "which", lambda t: "/usr/bin/" + t)
    client = boto3.client("ecr", region_name="eu-west-1")
    token = base64.b64encode(b"AWS:ecr-password").decode()
    with Stubber(client) as stub:
        stub.add_response(
            "get_authorization_token", {"authorizationData": [{"authorizationToken": token}]}
        )
        result = push(oci_archive[0], f"{ECR}/slipway:v1", ecr_client=client)
    assert result.digest == oci_archive[1]
    assert result.uri == f"{ECR}/slipway@{oci_archive[1]}"
    assert seen["mode"] == 0o600
    assert seen["auth"] == {
        "auths": {ECR: {"auth": base64.b64encode(b"AWS:ecr-password").decode()}}
    }
    assert "ecr-password" not in " ".join(seen["cmd"])
    assert "--dest-tls-verify=false" not in seen["cmd"]  # ECR is verified TLS
    assert seen["cmd"][-2:] == [f"oci-archive:{oci_archive[0]}", f"docker://{ECR}/slipway:v1"]


def test_image_error_is_the_cli_expected_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert issubclass(PushError, ImageError)
    code = main(["image", "push", str(tmp_path / "nope.tar"), "127.0.0.1:5000/slipway:v1"])
    assert code == 1
    assert "slipway image: error:" in capsys.readouterr().err


# --- integration: a real registry on loopback --------------------------------------------


def _remote_digest(reference: str, *extra: str) -> str:
    """The manifest digest the registry serves, read back with skopeo."""
    out = subprocess.run(
        [
            "skopeo",
            "inspect",
            "--tls-verify=false",
            *extra,
            "--format",
            "{{.Digest}}",
            f"docker://{reference}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout.strip()


def test_registry_push_prints_the_digest_and_pulls_back_the_same(
    registry: Registry,
    oci_archive: tuple[Path, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    archive, digest = oci_archive
    dest = f"{registry.host}/slipway/predict:v1"
    # Loopback: plain HTTP without --insecure (automatic).
    assert main(["image", "push", str(archive), dest]) == 0
    out = capsys.readouterr().out
    assert f"digest: {digest}" in out
    assert f"uri:    {registry.host}/slipway/predict@{digest}" in out
    assert _remote_digest(dest) == digest
    # Pulled back by digest into an archive: the same manifest, hence the same image.
    pulled = tmp_path / "pulled.oci.tar"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--src-tls-verify=false",
            "--preserve-digests",
            f"docker://{registry.host}/slipway/predict@{digest}",
            f"oci-archive:{pulled}",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert archive_manifest_digest(pulled) == digest


def test_registry_tls_verify_fails_against_plain_http(
    registry: Registry, oci_archive: tuple[Path, str]
) -> None:
    with pytest.raises(PushError, match="skopeo copy to .* failed"):
        push(oci_archive[0], f"{registry.host}/slipway:tls", insecure=False)


def test_registry_with_auth_takes_the_credentials_and_refuses_without(
    auth_registry: Registry, oci_archive: tuple[Path, str]
) -> None:
    archive, digest = oci_archive
    dest = f"{auth_registry.host}/slipway:v1"
    with pytest.raises(PushError, match="(?i)unauthorized|authentication required"):
        push(archive, dest)
    with pytest.raises(PushError, match="(?i)unauthorized|authentication required"):
        push(archive, dest, credentials=(USER, "wrong"))
    result = push(archive, dest, credentials=(USER, PASSWORD))
    assert result.digest == digest
    assert _remote_digest(dest, "--creds", f"{USER}:{PASSWORD}") == digest


def test_registry_push_with_podman_gives_a_pullable_digest(
    registry: Registry,
    oci_archive: tuple[Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """podman loads the archive into its store first (its own --root here, so nothing of
    the machine's storage is touched) and pushes that; the digest it prints is served."""
    root = tmp_path / "podman"
    conf = tmp_path / "storage.conf"
    conf.write_text(
        f'[storage]\ndriver = "vfs"\nrunroot = "{root}/run"\ngraphroot = "{root}/graph"\n'
    )
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", str(conf))
    dest = f"{registry.host}/slipway/podman:v1"
    result = push(oci_archive[0], dest, tool="podman")
    assert result.tool == "podman"
    assert _remote_digest(dest) == result.digest


def test_registry_push_of_the_built_image_pulls_back_the_same_digest(
    registry: Registry, built_image: Any, tmp_path: Path
) -> None:
    """The real image (`slipway build --image`), not the fixture archive: pushed, inspected
    and pulled back by digest, it is the image the build printed."""
    dest = f"{registry.host}/slipway/predict:built"
    result = push(built_image.archive, dest)
    assert result.digest == built_image.digest == archive_manifest_digest(built_image.archive)
    assert _remote_digest(dest) == built_image.digest
    pulled = tmp_path / "pulled.oci.tar"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--src-tls-verify=false",
            "--preserve-digests",
            f"docker://{result.uri}",
            f"oci-archive:{pulled}",
        ],
        capture_output=True,
        check=True,
        timeout=300,
    )
    assert archive_manifest_digest(pulled) == built_image.digest
