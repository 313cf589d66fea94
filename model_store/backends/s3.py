"""A model store in a versioned S3 bucket.

Layout under the prefix: `<name>/blobs/<sha256>.onnx` (content-addressed, so racing writers
cannot overwrite each other's bytes), a version's assets as `<name>/blobs/<sha256>-<file>`
(a tokenizer.json) and `<name>/<version>/manifest.json`, written with
`If-None-Match: *` so a version number is taken exactly once.

`S3Uri` and `S3VersionUri` are the one parser of `s3://` locations: store roots
(`s3://bucket[/prefix]`) and model versions (`s3://bucket/[prefix/]name/version`, what
SLIPWAY_MODEL holds); `infra/` uses them too.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard

from model_store import assets as version_assets
from model_store.exceptions import ManifestError, ModelNotFound, ModelStoreError
from model_store.loader import verify_bytes
from model_store.manifest import MANIFEST_FILE, Manifest, parse_ref

MAX_REGISTER_ATTEMPTS = 5
SCHEME = "s3://"
DEFAULT_PREFIX = "models"  # a store given as plain `s3://bucket`
# What S3 answers a conditional write (If-None-Match) that lost: the key exists already.
_TAKEN = ("PreconditionFailed", "ConditionalRequestConflict", "412")


def is_s3_uri(text: str | None) -> TypeGuard[str]:
    return text is not None and text.startswith(SCHEME)


@dataclass(frozen=True)
class S3Uri:
    """`s3://bucket/key`."""

    bucket: str
    key: str = ""

    @classmethod
    def parse(cls, uri: str) -> S3Uri:
        if not is_s3_uri(uri):
            raise ModelStoreError(f"{uri!r} is not an s3:// URI")
        bucket, _, key = uri[len(SCHEME) :].partition("/")
        if not bucket:
            raise ModelStoreError(f"{uri!r} names no bucket")
        return cls(bucket, key)

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.key}"


@dataclass(frozen=True)
class S3VersionUri:
    """`s3://bucket/[prefix/]name/version[/manifest.json]`: one model version in an S3 store."""

    bucket: str
    prefix: str
    name: str
    version: int

    @classmethod
    def parse(cls, uri: str) -> S3VersionUri:
        location = S3Uri.parse(uri)
        parts = location.key.removesuffix("/" + MANIFEST_FILE).rstrip("/").split("/")
        if len(parts) < 2 or not parts[-1].isdigit():
            raise ModelStoreError(
                f"{uri} must name a model version: s3://BUCKET/[PREFIX/]NAME/VERSION"
            )
        return cls(location.bucket, "/".join(parts[:-2]), parts[-2], int(parts[-1]))

    @property
    def ref(self) -> str:
        """`name@version`, as X-Model-Version and `slipway models` show it."""
        return f"{self.name}@{self.version}"


class S3Store:
    def __init__(self, bucket: str, prefix: str = DEFAULT_PREFIX, *, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.client = client

    @classmethod
    def from_uri(cls, uri: str, *, client: Any = None) -> S3Store:
        """The store at `s3://bucket[/prefix]` (prefix `models` when none is given)."""
        location = S3Uri.parse(uri)
        return cls(location.bucket, location.key or DEFAULT_PREFIX, client=client)

    @classmethod
    def holding(cls, uri: str, *, client: Any = None) -> S3Store:
        """The store that holds the version `s3://bucket/[prefix/]name/version`."""
        version = S3VersionUri.parse(uri)
        return cls(version.bucket, version.prefix, client=client)

    def __repr__(self) -> str:
        return f"S3Store('{S3Uri(self.bucket, self.prefix)}')"

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def blob_key(self, sha256: str, name: str) -> str:
        return self._key(name, "blobs", f"{sha256}.onnx")

    def asset_key(self, sha256: str, name: str, asset: str) -> str:
        return self._key(name, "blobs", f"{sha256}-{asset}")

    def manifest_key(self, name: str, version: int) -> str:
        return self._key(name, str(version), MANIFEST_FILE)

    def version_uri(self, manifest: Manifest) -> str:
        return str(S3Uri(self.bucket, self._key(manifest.name, str(manifest.version))))

    # -- reading --------------------------------------------------------------
    def names(self) -> list[str]:
        root = f"{self.prefix}/" if self.prefix else ""
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in self._prefixes(root))

    def versions(self, name: str) -> list[Manifest]:
        return [self._read_manifest(name, n) for n in self._numbers(name)]

    def manifest(self, name: str, version: int | None = None) -> Manifest:
        parse_ref(name)
        numbers = self._numbers(name)
        if not numbers:
            raise ModelNotFound(f"model {name!r} is not in s3://{self.bucket}/{self.prefix}")
        if version is None:
            version = numbers[-1]
        elif version not in numbers:
            raise ModelNotFound(f"model {name}@{version} does not exist; versions in S3: {numbers}")
        return self._read_manifest(name, version)

    def get(self, name: str, version: int | None = None) -> tuple[Manifest, bytes]:
        manifest = self.manifest(name, version)
        return manifest, self.fetch_blob(manifest)

    def fetch_blob(self, manifest: Manifest) -> bytes:
        key = self.blob_key(manifest.sha256, manifest.name)
        data = self._get_bytes(key)
        verify_bytes(data, manifest.sha256, f"s3://{self.bucket}/{key}")
        return data

    def assets(self, manifest: Manifest) -> dict[str, bytes]:
        version_assets.check_names(manifest.assets)
        out = {}
        for asset, sha256 in (manifest.assets or {}).items():
            key = self.asset_key(sha256, manifest.name, asset)
            data = self._get_bytes(key)
            verify_bytes(data, sha256, f"s3://{self.bucket}/{key}")
            out[asset] = data
        return out

    def get_uri(self, uri: str) -> tuple[Manifest, bytes]:
        """Fetch `s3://bucket/<prefix>/<name>/<version>[/manifest.json]`.

        GetObject only (no listing): all that a function's role may do.
        """
        version = S3VersionUri.parse(uri)
        if (version.bucket, version.prefix) != (self.bucket, self.prefix):
            raise ModelStoreError(f"{uri} is not in {self!r}")
        manifest = self._read_manifest(version.name, version.version)
        return manifest, self.fetch_blob(manifest)

    def _numbers(self, name: str) -> list[int]:
        numbers = []
        for p in self._prefixes(self._key(name) + "/"):
            last = p.rstrip("/").rsplit("/", 1)[-1]
            if last.isdigit():
                numbers.append(int(last))
        return sorted(numbers)

    def _prefixes(self, prefix: str) -> list[str]:
        out: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            out.extend(cp["Prefix"] for cp in page.get("CommonPrefixes", []))
        return out

    def _read_manifest(self, name: str, version: int) -> Manifest:
        key = self.manifest_key(name, version)
        manifest = self._parse(self._get_bytes(key), f"s3://{self.bucket}/{key}")
        if (manifest.name, manifest.version) != (name, version):
            raise ManifestError(f"s3://{self.bucket}/{key} says {manifest.ref}")
        return manifest

    @staticmethod
    def _parse(raw: bytes, where: str) -> Manifest:
        try:
            return Manifest.from_dict(json.loads(raw))
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{where} is not JSON: {exc}") from exc

    def _get_bytes(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            return body
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NoSuchBucket"):
                raise ModelNotFound(f"s3://{self.bucket}/{key} does not exist ({code})") from exc
            raise ModelStoreError(f"cannot read s3://{self.bucket}/{key}: {exc}") from exc

    # -- writing --------------------------------------------------------------
    # put_blob and put_manifest raise botocore's ClientError as it is, so each caller says
    # what failed in its own terms (register here, `slipway release` in infra/aws/push.py).
    def put_blob(self, data: bytes, sha256: str, name: str) -> None:
        """Upload a model's bytes under their sha256; S3 recomputes the SHA-256 and refuses
        the upload if the bytes changed in flight."""
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.blob_key(sha256, name),
            Body=data,
            ChecksumSHA256=base64.b64encode(binascii.unhexlify(sha256)).decode(),
            ContentType="application/octet-stream",
        )

    def put_assets(self, manifest: Manifest, assets: Mapping[str, bytes]) -> None:
        """Upload a version's assets under their sha256 (S3 verifies each, as put_blob)."""
        for asset, data in version_assets.checked(manifest, assets).items():
            sha256 = (manifest.assets or {})[asset]
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.asset_key(sha256, manifest.name, asset),
                Body=data,
                ChecksumSHA256=base64.b64encode(binascii.unhexlify(sha256)).decode(),
                ContentType="application/octet-stream",
            )

    def put_manifest(self, manifest: Manifest) -> bool:
        """Write a version's manifest if that version is free; False when it was taken."""
        from botocore.exceptions import ClientError

        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.manifest_key(manifest.name, manifest.version),
                Body=json.dumps(manifest.to_dict(), indent=2).encode(),
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") in _TAKEN:
                return False
            raise
        return True

    def register(
        self, data: bytes, draft: Manifest, assets: Mapping[str, bytes] | None = None
    ) -> tuple[Manifest, bool]:
        from botocore.exceptions import ClientError

        parse_ref(draft.name)
        verify_bytes(data, draft.sha256, f"model {draft.name} to register")
        files = version_assets.checked(draft, assets)
        try:
            self.put_blob(data, draft.sha256, draft.name)
            self.put_assets(draft, files)
        except ClientError as exc:
            raise ModelStoreError(f"upload to s3://{self.bucket} failed: {exc}") from exc
        for _ in range(MAX_REGISTER_ATTEMPTS):
            existing = self.versions(draft.name)
            for m in existing:
                if version_assets.same_version(m, draft):
                    return m, False
            version = (existing[-1].version if existing else 0) + 1
            manifest = draft.with_version(version, datetime.now(UTC).isoformat(timespec="seconds"))
            try:
                if self.put_manifest(manifest):
                    return manifest, True
            except ClientError as exc:
                raise ModelStoreError(f"writing manifest to S3 failed: {exc}") from exc
            # Someone else took this version number between our list and our write.
        raise ModelStoreError(
            f"could not claim a version number for {draft.name} after "
            f"{MAX_REGISTER_ATTEMPTS} attempts; other writers keep racing, try again"
        )
