"""A model store in a versioned S3 bucket.

Layout under the prefix: `<name>/blobs/<sha256>.onnx` (content-addressed, so racing writers
cannot overwrite each other's bytes) and `<name>/<version>/manifest.json`, written with
`If-None-Match: *` so a version number is taken exactly once.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from model_store.exceptions import ManifestError, ModelNotFound, ModelStoreError
from model_store.loader import verify_bytes
from model_store.manifest import MANIFEST_FILE, Manifest, parse_ref

MAX_REGISTER_ATTEMPTS = 5


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ModelStoreError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise ModelStoreError(f"{uri!r} names no bucket")
    return bucket, key


class S3Store:
    def __init__(self, bucket: str, prefix: str = "models", *, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.client = client

    def __repr__(self) -> str:
        return f"S3Store('s3://{self.bucket}/{self.prefix}')"

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def blob_key(self, sha256: str, name: str) -> str:
        return self._key(name, "blobs", f"{sha256}.onnx")

    def version_uri(self, manifest: Manifest) -> str:
        return f"s3://{self.bucket}/{self._key(manifest.name, str(manifest.version))}"

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

    def get_uri(self, uri: str) -> tuple[Manifest, bytes]:
        """Fetch `s3://bucket/<prefix>/<name>/<version>[/manifest.json]`."""
        bucket, key = split_s3_uri(uri)
        if bucket != self.bucket:
            raise ModelStoreError(f"{uri} is not in bucket {self.bucket}")
        key = key.removesuffix("/" + MANIFEST_FILE).rstrip("/")
        raw = self._get_bytes(f"{key}/{MANIFEST_FILE}")
        manifest = self._parse(raw, f"s3://{bucket}/{key}/{MANIFEST_FILE}")
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
        key = self._key(name, str(version), MANIFEST_FILE)
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
    def register(self, data: bytes, draft: Manifest) -> tuple[Manifest, bool]:
        from botocore.exceptions import ClientError

        parse_ref(draft.name)
        verify_bytes(data, draft.sha256, f"model {draft.name} to register")
        checksum = base64.b64encode(binascii.unhexlify(draft.sha256)).decode()
        try:
            # S3 recomputes the SHA-256 and refuses the upload if the bytes changed in flight.
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.blob_key(draft.sha256, draft.name),
                Body=data,
                ChecksumSHA256=checksum,
                ContentType="application/octet-stream",
            )
        except ClientError as exc:
            raise ModelStoreError(f"upload to s3://{self.bucket} failed: {exc}") from exc
        for _ in range(MAX_REGISTER_ATTEMPTS):
            existing = self.versions(draft.name)
            for m in existing:
                if m.sha256 == draft.sha256:
                    return m, False
            version = (existing[-1].version if existing else 0) + 1
            manifest = draft.with_version(version, datetime.now(UTC).isoformat(timespec="seconds"))
            try:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=self._key(draft.name, str(version), MANIFEST_FILE),
                    Body=json.dumps(manifest.to_dict(), indent=2).encode(),
                    ContentType="application/json",
                    IfNoneMatch="*",
                )
                return manifest, True
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in ("PreconditionFailed", "ConditionalRequestConflict", "412"):
                    raise ModelStoreError(f"writing manifest to S3 failed: {exc}") from exc
                # Someone else took this version number between our list and our write.
        raise ModelStoreError(
            f"could not claim a version number for {draft.name} after "
            f"{MAX_REGISTER_ATTEMPTS} attempts; other writers keep racing, try again"
        )
