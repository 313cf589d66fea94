"""Copy one model version from any store to the S3 store the function reads, verified.

The version keeps its number (digits@3 locally is digits@3 on S3), so the name@version a
caller sees in X-Model-Version is the one that was released. Blobs are content-addressed and
uploaded with a SHA-256 checksum S3 verifies, and so are the version's assets (a text model's
tokenizer.json beside model.onnx: without it the function's init fails); the manifest is
written only if that version is free (If-None-Match), and the result is read back and
verified like the function will (the blob and every asset).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from infra import progress
from infra.aws.client import Aws
from infra.aws.errors import aws_errors
from infra.aws.exceptions import Conflict
from model_store.assets import same_version
from model_store.backends import Store
from model_store.backends.s3 import S3Store, S3Uri
from model_store.exceptions import ModelNotFound
from model_store.manifest import MANIFEST_FILE, Manifest


@dataclass(frozen=True)
class ModelThere:
    TEXT: ClassVar[str] = "model {ref} is already at {uri} (sha256 {sha256})"
    ref: str
    uri: str
    sha256: str


@dataclass(frozen=True)
class PushModel:
    TEXT: ClassVar[str] = "push model {ref} from {source} to {uri}: {what} (sha256 {sha256})"
    ref: str
    source: str
    uri: str
    what: str  # the writes, in words
    sha256: str


@dataclass(frozen=True)
class ModelPush:
    ref: str
    sha256: str
    source: str  # repr of the store the bytes come from
    uri: str  # the version folder on S3: what SLIPWAY_MODEL gets
    upload_blob: bool
    write_manifest: bool
    upload_assets: tuple[str, ...] = ()  # the version's assets (all of them, if one is missing)

    @property
    def steps(self) -> tuple[ModelThere | PushModel]:
        """What `push` writes: the blob, the assets, the manifest, or nothing (it reads back
        either way)."""
        if not (self.upload_blob or self.write_manifest or self.upload_assets):
            return (ModelThere(self.ref, self.uri, self.sha256),)
        writes = (
            ("upload blob", self.upload_blob),
            (f"upload assets ({', '.join(self.upload_assets)})", bool(self.upload_assets)),
            ("write manifest", self.write_manifest),
        )
        what = " and ".join(w for w, on in writes if on)
        return (PushModel(self.ref, self.source, self.uri, what, self.sha256),)


# Kept for infra/aws/publish.py; the parsing is S3Store's (model_store.backends.s3).
def plan_push(aws: Aws, source: Store, manifest: Manifest, dest: S3Store) -> ModelPush:
    """Read-only: what must be copied, refusing when S3 holds other bytes under that version."""
    try:
        with aws_errors(f"reading {dest}"):
            there = dest.manifest(manifest.name, manifest.version)
    except ModelNotFound:
        there = None
    if there is not None and not same_version(there, manifest):
        raise Conflict(
            f"{dest} already has {manifest.ref} with sha256 {there.sha256} (assets "
            f"{sorted((there.assets or {}).items())}), but {source} has {manifest.sha256} (assets "
            f"{sorted((manifest.assets or {}).items())}): the stores diverged. Register the "
            "model as a new version and release that one"
        )
    assets = dict(manifest.assets or {})
    missing = [
        a
        for a, sha in assets.items()
        if not aws.object_exists(dest.bucket, dest.asset_key(sha, manifest.name, a))
    ]
    return ModelPush(
        ref=manifest.ref,
        sha256=manifest.sha256,
        source=repr(source),
        uri=dest.version_uri(manifest),
        upload_blob=not aws.object_exists(
            dest.bucket, dest.blob_key(manifest.sha256, manifest.name)
        ),
        write_manifest=there is None,
        upload_assets=tuple(sorted(assets)) if missing else (),
    )


def push(aws: Aws, source: Store, manifest: Manifest, dest: S3Store, plan: ModelPush) -> Manifest:
    """Execute `plan`; returns the manifest as the function will read it from S3."""
    if plan.upload_blob:
        _, data = source.get(manifest.name, manifest.version)  # sha256-verified read
        blob = S3Uri(dest.bucket, dest.blob_key(manifest.sha256, manifest.name))
        # One PutObject (S3 checks its SHA-256): the bytes count when S3 has them all.
        with (
            progress.task(f"upload {manifest.ref} to {blob}", total=len(data), unit="bytes") as up,
            aws_errors(f"PutObject {blob}"),
        ):
            dest.put_blob(data, manifest.sha256, manifest.name)
            up.update(len(data), "verified by S3")
    if plan.upload_assets:
        files = source.assets(manifest)  # each sha256-verified against the manifest
        with (
            progress.task(
                f"upload {', '.join(plan.upload_assets)} of {manifest.ref} to {dest}",
                total=sum(map(len, files.values())),
                unit="bytes",
            ) as up,
            aws_errors(f"PutObject of {manifest.ref}'s assets in {dest}"),
        ):
            dest.put_assets(manifest, files)
            up.update(sum(map(len, files.values())), "verified by S3")
    if plan.write_manifest:
        with aws_errors(f"PutObject {plan.uri}/{MANIFEST_FILE}"):
            # False: someone pushed this version meanwhile; the read-back below checks it.
            dest.put_manifest(manifest)
    with aws_errors(f"reading back {plan.uri}"):
        stored, _ = dest.get_uri(plan.uri)  # downloads and verifies the blob's sha256
        dest.assets(stored)  # and each asset's, as the function's init will
    if not same_version(stored, manifest):
        raise Conflict(
            f"{plan.uri} now holds sha256 {stored.sha256}, not {manifest.sha256}: another push "
            "raced this one. Register the model as a new version and release that one"
        )
    return stored
