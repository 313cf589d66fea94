"""`slipway image push ARCHIVE REGISTRY/REPO:TAG`: an OCI archive to a registry, by digest.

skopeo copies the archive's blobs and manifest as they are (`--preserve-digests`), so the
pushed digest is the archive's own; podman and docker (used when skopeo is missing) load the archive first and push
what they loaded. Amazon ECR registries are logged in to with boto3's
`ecr.get_authorization_token`; the credentials go to the tool in a private auth file (0600, in
a temporary directory), never on a command line other users can read in /proc.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from infra.image.exceptions import PushError

Tool = Literal["skopeo", "podman", "docker"]
TOOLS: Final[tuple[Tool, ...]] = ("skopeo", "podman", "docker")  # the order of preference
PUSH_TIMEOUT_S: Final = 3600  # a multi-GB image over a slow link
OUTPUT_TAIL: Final = 2000  # characters of a failed tool's output kept in the error

# <12-digit account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]
ECR_HOST: Final = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$"
)
# host[:port]/path[:tag][@sha256:hex]; path components as the distribution spec allows.
REFERENCE: Final = re.compile(
    r"^(?P<host>[A-Za-z0-9.-]+(?::\d+)?|\[[0-9a-fA-F:]+\](?::\d+)?)"
    r"/(?P<path>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
DIGEST: Final = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Destination:
    """A parsed REGISTRY/REPO[:TAG][@DIGEST]."""

    host: str  # with its port, if any
    path: str
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        out = f"{self.host}/{self.path}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    @property
    def hostname(self) -> str:
        if self.host.startswith("["):
            return self.host[1 : self.host.index("]")]
        return self.host.rsplit(":", 1)[0] if ":" in self.host else self.host

    @property
    def loopback(self) -> bool:
        name = self.hostname
        return name == "localhost" or name == "::1" or name.startswith("127.")

    @property
    def ecr(self) -> re.Match[str] | None:
        return ECR_HOST.match(self.hostname)


@dataclass(frozen=True)
class PushResult:
    destination: str  # REGISTRY/REPO:TAG as pushed
    digest: str  # sha256:... of the pushed manifest
    tool: Tool

    @property
    def uri(self) -> str:
        """REGISTRY/REPO@sha256:..., what `--param image=` and `--image-uri` take."""
        dest = parse_destination(self.destination)
        return f"{dest.host}/{dest.path}@{self.digest}"


def parse_destination(text: str) -> Destination:
    """REGISTRY/REPO:TAG (or @sha256:...), with an explicit registry host; PushError if not."""
    raw = text.removeprefix("docker://")
    match = REFERENCE.match(raw)
    shown = text if len(text) <= 200 else text[:200] + "..."
    if match is None:
        raise PushError(
            f"{shown!r} is not REGISTRY/REPO:TAG (e.g. 123456789012.dkr.ecr.eu-west-1."
            "amazonaws.com/slipway:v1 or 127.0.0.1:5000/slipway:v1; lowercase repository)"
        )
    host = match["host"]
    # Docker's rule for "is the first component a registry": a dot, a port, or localhost.
    # Without one the tools would push to Docker Hub, which is never what a bare name means here.
    if not ("." in host or ":" in host or host == "localhost"):
        raise PushError(f"{shown!r} names no registry host: use REGISTRY/REPO:TAG")
    if match["tag"] is None and match["digest"] is None:
        raise PushError(f"{shown!r} has no tag: use REGISTRY/REPO:TAG")
    return Destination(host, match["path"], match["tag"], match["digest"])


def ecr_image(uri: str) -> tuple[str, str] | None:
    """(region, digest) when `uri` is ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO@sha256:HEX,
    the form Lambda runs and releases pin (a tag could move under a published version)."""
    try:
        dest = parse_destination(uri)
    except PushError:
        return None
    ecr = dest.ecr
    if ecr is None or dest.digest is None or dest.tag is not None or uri.startswith("docker:"):
        return None
    return ecr["region"], dest.digest


def archive_manifest_digest(archive: Path) -> str:
    """The digest of the one manifest an OCI archive's index.json names; PushError if it is
    not an OCI archive (a tar with oci-layout and index.json) with exactly one manifest."""
    if not archive.is_file():
        raise PushError(f"{archive}: no such file (build one with `slipway build --image`)")
    try:
        with tarfile.open(archive) as tar:
            names = {n.removeprefix("./"): n for n in tar.getnames()}
            if not {"oci-layout", "index.json"} <= names.keys():
                raise PushError(
                    f"{archive}: not an OCI archive (no oci-layout/index.json; a `docker save` "
                    "tar is not one: use `skopeo copy docker-archive:... oci-archive:...`)"
                )
            member = tar.extractfile(names["index.json"])
            if member is None:
                raise PushError(f"{archive}: index.json is not a file")
            index = json.loads(member.read(1 << 20))  # an index is small; bound it anyway
    except (tarfile.TarError, OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PushError(f"{archive}: not a readable OCI archive: {exc}") from exc
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or len(manifests) != 1:
        count = len(manifests) if isinstance(manifests, list) else 0
        raise PushError(f"{archive}: index.json names {count} manifests; push needs one")
    digest = manifests[0].get("digest") if isinstance(manifests[0], dict) else None
    if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
        raise PushError(f"{archive}: index.json's manifest has no sha256 digest")
    return digest


def find_tool(which: Callable[[str], str | None] | None = None) -> Tool:
    which = which or shutil.which  # looked up now, not at import (tests replace it)
    for tool in TOOLS:
        if which(tool):
            return tool
    raise PushError(
        "no skopeo, podman or docker on PATH: run `make image-tools` "
        "(infra/image/system-packages.sh installs skopeo)"
    )


def ecr_login(region: str, client: Any = None) -> tuple[str, str]:
    """(user, password) for an ECR registry in `region`, from ecr.get_authorization_token
    (valid 12 hours; the caller's AWS credentials need ecr:GetAuthorizationToken)."""
    if client is None:
        import boto3

        client = boto3.client("ecr", region_name=region)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        data = client.get_authorization_token()["authorizationData"]
        token = base64.b64decode(data[0]["authorizationToken"]).decode()
    except (BotoCoreError, ClientError) as exc:
        raise PushError(f"ECR login in {region} failed: {exc}") from exc
    except (KeyError, IndexError, ValueError) as exc:
        raise PushError(f"ECR login in {region}: unexpected authorization data ({exc})") from exc
    user, sep, password = token.partition(":")
    if not sep or not user or not password:
        raise PushError(f"ECR login in {region}: the token is not USER:PASSWORD")
    return user, password


def _write_authfile(directory: Path, host: str, user: str, password: str) -> Path:
    """A containers-auth.json (the format skopeo, podman and docker read) for one registry."""
    path = directory / "auth.json"
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"auths": {host: {"auth": auth}}}, out)
    return path


def _run(cmd: Sequence[str], what: str, env: dict[str, str] | None = None) -> str:
    try:
        proc = subprocess.run(
            list(cmd),
            capture_output=True,
            text=True,
            timeout=PUSH_TIMEOUT_S,
            check=False,
            env=env,
        )
    except subprocess.TimeoutExpired as exc:
        raise PushError(f"{what}: no result after {PUSH_TIMEOUT_S} s") from exc
    if proc.returncode != 0:
        output = (proc.stderr.strip() or proc.stdout.strip())[-OUTPUT_TAIL:]
        raise PushError(f"{what} failed (exit {proc.returncode}): {output or '(no output)'}")
    return proc.stdout


def _read_digest(path: Path, what: str) -> str:
    text = path.read_text().strip() if path.exists() else ""
    if not DIGEST.fullmatch(text):
        raise PushError(f"{what}: wrote no digest (got {text[:100]!r})")
    return text


def _loaded_image(output: str, what: str) -> str:
    """The image `podman load` / `docker load` reports: the last 'Loaded image...: X' line."""
    for line in reversed(output.strip().splitlines()):
        if line.startswith("Loaded image"):
            return line.split(": ", 1)[1].split(",")[0].strip()
    raise PushError(f"{what}: no 'Loaded image' in its output: {output[-OUTPUT_TAIL:]!r}")


def push(
    archive: Path,
    destination: str,
    *,
    insecure: bool | None = None,
    tool: Tool | None = None,
    credentials: tuple[str, str] | None = None,
    ecr_client: Any = None,
) -> PushResult:
    """Push `archive` (an OCI archive) to `destination` and return the pushed digest.

    `insecure`: plain HTTP / no TLS verification; None means automatic, on for loopback
    registries (localhost, 127.0.0.0/8, ::1) only. `tool`: None picks skopeo, podman, docker.
    `credentials`: (user, password) for the registry; None logs in to ECR registries through
    boto3 and uses the tool's own login (e.g. `skopeo login`) for the others.
    """
    dest = parse_destination(destination)
    if dest.digest is not None:
        raise PushError(f"{destination!r}: push to a tag; the digest is what push prints")
    local = archive_manifest_digest(archive)  # also a clear error before any tool runs
    chosen = tool or find_tool()
    if shutil.which(chosen) is None:
        raise PushError(f"--tool {chosen}: not on PATH (run `make image-tools`)")
    plain = dest.loopback if insecure is None else insecure
    ecr = dest.ecr
    with tempfile.TemporaryDirectory(prefix="slipway-push-") as tmp:
        work = Path(tmp)
        if credentials is None and ecr is not None:
            credentials = ecr_login(ecr["region"], ecr_client)
        authfile = None
        if credentials is not None:
            authfile = _write_authfile(work, dest.host, *credentials)
        digestfile = work / "digest"
        if chosen == "skopeo":
            # --preserve-digests: blobs and manifest as they are (skopeo would otherwise
            # gzip uncompressed layers), so the pushed digest is the archive's own.
            cmd = ["skopeo", "copy", "--preserve-digests", "--retry-times", "3"]
            cmd += ["--digestfile", str(digestfile)]
            if plain:
                cmd.append("--dest-tls-verify=false")
            if authfile is not None:
                cmd += ["--dest-authfile", str(authfile)]
            cmd += [f"oci-archive:{archive}", f"docker://{dest.reference}"]
            _run(cmd, f"skopeo copy to {dest.reference}")
            digest = _read_digest(digestfile, "skopeo copy")
            if digest != local:
                raise PushError(f"skopeo pushed {digest}, not the archive's {local}")
        elif chosen == "podman":
            loaded = _loaded_image(
                _run(["podman", "load", "-i", str(archive)], "podman load"), "podman load"
            )
            cmd = ["podman", "push", "--digestfile", str(digestfile)]
            if plain:
                cmd.append("--tls-verify=false")
            if authfile is not None:
                cmd += ["--authfile", str(authfile)]
            cmd += [loaded, f"docker://{dest.reference}"]
            _run(cmd, f"podman push to {dest.reference}")
            digest = _read_digest(digestfile, "podman push")
        else:
            digest = _docker_push(archive, dest, authfile, work)
    return PushResult(dest.reference, digest, chosen)


def _docker_push(archive: Path, dest: Destination, authfile: Path | None, work: Path) -> str:
    """docker load, tag, push; the daemon decides TLS itself (loopback registries are
    insecure by default; others need its insecure-registries setting)."""
    env = None
    if authfile is not None:
        # A private DOCKER_CONFIG holding only this registry's login: nothing is written
        # to the user's ~/.docker/config.json.
        authfile.rename(work / "config.json")
        env = {**os.environ, "DOCKER_CONFIG": str(work)}
    loaded = _loaded_image(_run(["docker", "load", "-i", str(archive)], "docker load"), "load")
    _run(["docker", "tag", loaded, dest.reference], "docker tag")
    output = _run(["docker", "push", dest.reference], f"docker push to {dest.reference}", env)
    # The last line is "<tag>: digest: sha256:... size: N".
    found = DIGEST.findall(output.rsplit("digest:", 1)[-1]) if "digest:" in output else []
    if not found:
        raise PushError(f"docker push printed no digest: {output[-OUTPUT_TAIL:]!r}")
    return str(found[0])
