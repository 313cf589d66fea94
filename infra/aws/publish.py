"""`slipway publish --target aws`: a function version that pins one model version.

Plan (reads only), then execute: push the model to S3 (from the source store; a model not
there but already in the S3 store is taken from S3), update the function's configuration
(model URI and sha256 in the environment, name@version in the description, other variables
kept), wait for LastUpdateStatus Successful, and publish a version guarded by the expected
CodeSha256 and RevisionId so a concurrent change fails the publish instead of shipping it;
then wait until the version is Active.
A code release (--zip or --image-uri) updates the code first and goes through the same path.
Lambda cannot change a function's package type, so --zip needs a Zip function and
--image-uri an Image one (a stack deployed with `--param image=...`); the plan says so first.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from functions.predict.config import MODEL, MODEL_SHA256
from infra.aws.client import Aws
from infra.aws.errors import aws_errors
from infra.aws.exceptions import Conflict, InvalidRequest
from infra.aws.history import MAX_DESCRIPTION  # also Lambda's limit for version descriptions
from infra.aws.pins import pins
from infra.aws.push import ModelPush, plan_push, push
from infra.image.push import ecr_image
from infra.release.model import Pins
from infra.release.steps import Note
from model_store.backends import Store
from model_store.backends.s3 import S3Store, S3Uri, is_s3_uri
from model_store.exceptions import ModelNotFound
from model_store.files import sha256_file
from model_store.manifest import Manifest, parse_ref


@dataclass(frozen=True)
class CodeChange:
    zip_path: str | None = None
    image_uri: str | None = None
    sha256: str | None = None  # base64 SHA-256 of the zip: what Lambda reports as CodeSha256
    region: str | None = None  # the image's ECR region: Lambda pulls from its own region only

    @classmethod
    def of(cls, zip_path: str | None, image_uri: str | None) -> CodeChange | None:
        if zip_path and image_uri:
            raise InvalidRequest("give --zip or --image-uri, not both")
        if zip_path:
            path = Path(zip_path)
            if not path.is_file():
                raise InvalidRequest(f"--zip {zip_path}: no such file (build it first)")
            digest = bytes.fromhex(sha256_file(path))
            return cls(zip_path=zip_path, sha256=base64.b64encode(digest).decode())
        if not image_uri:
            return None
        found = ecr_image(image_uri)
        if found is None:
            shown = image_uri if len(image_uri) <= 200 else image_uri[:200] + "..."
            raise InvalidRequest(
                f"--image-uri {shown}: use ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO@sha256:DIGEST "
                "(Lambda runs ECR images; a release pins a digest, which `slipway image push` "
                "prints)"
            )
        return cls(image_uri=image_uri, region=found[0])

    @property
    def package_type(self) -> str:
        """The PackageType the function must have for this change."""
        return "Image" if self.image_uri else "Zip"

    def check_function(self, function: str, config: Mapping[str, Any]) -> None:
        """InvalidRequest unless the function can take this code: same package type (Lambda
        cannot convert one into the other) and, for an image, the function's region."""
        # Lambda omits PackageType for some older zip functions.
        actual = str(config.get("PackageType") or "Zip")
        if actual != self.package_type:
            if self.image_uri:
                raise InvalidRequest(
                    f"--image-uri: {function} is a Zip function and Lambda cannot change a "
                    "function's package type. Deploy the stack with `--param image=...` to make "
                    "it an Image function, or release a zip with --zip"
                )
            raise InvalidRequest(
                f"--zip: {function} is an Image function and Lambda cannot change a function's "
                "package type. Release an image with --image-uri (`slipway image push` prints "
                "it), or deploy the stack without --param image"
            )
        arn = str(config.get("FunctionArn", ""))
        region = arn.split(":")[3] if arn.count(":") >= 6 else None
        if self.region and region and self.region != region:
            raise InvalidRequest(
                f"--image-uri is in {self.region} but {function} is in {region}: Lambda pulls "
                f"images from its own region; push the image to ECR in {region}"
            )


@dataclass(frozen=True)
class Function:
    TEXT: ClassVar[str] = "function {function}"
    function: str


@dataclass(frozen=True)
class UpdateCode:
    TEXT: ClassVar[str] = "update code from {source} (then wait for LastUpdateStatus Successful)"
    source: str  # the zip or the image URI


@dataclass(frozen=True)
class SetVariable:
    TEXT: ClassVar[str] = "set {name}: {before} -> {after}"
    name: str
    before: str
    after: str


@dataclass(frozen=True)
class SetDescription:
    TEXT: ClassVar[str] = "set description: {description}"
    description: str


@dataclass(frozen=True)
class WaitUpdated:
    TEXT: ClassVar[str] = "wait for LastUpdateStatus Successful"


@dataclass(frozen=True)
class PublishVersion:
    TEXT: ClassVar[str] = "publish a version guarded by {code} and RevisionId {revision}"
    code: str  # the CodeSha256 guard, in words
    revision: str


Action = (
    Function | ModelPush | UpdateCode | SetVariable | SetDescription | WaitUpdated
    | PublishVersion | Note
)  # fmt: skip


@dataclass(frozen=True)
class PublishPlan:
    function: str
    model: ModelPush
    manifest: Manifest
    dest: str  # s3://bucket/prefix of the S3 store
    variables: Mapping[str, str]  # the whole new environment
    changed: Mapping[str, tuple[str | None, str]]  # variable -> (before, after)
    description: str
    code_sha256: str  # CodeSha256 of $LATEST when read (the guard for PublishVersion)
    revision_id: str | None
    code: CodeChange | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    # What the version would pin ($LATEST's code and configuration with `variables`); None for
    # a new image, whose CodeSha256 Lambda reports only once it has resolved the image.
    pins: Pins | None = None

    @property
    def steps(self) -> tuple[Action, ...]:
        """What `execute_publish` does, in order (the configuration's changes in one update)."""
        out: list[Action] = [Function(self.function), self.model]
        if self.code is not None:
            out.append(UpdateCode(str(self.code.zip_path or self.code.image_uri)))
        out += [SetVariable(k, old or "(unset)", new) for k, (old, new) in self.changed.items()]
        out += [SetDescription(self.description), WaitUpdated()]
        guard = "the new code's CodeSha256" if self.code else f"CodeSha256 {self.code_sha256}"
        out.append(PublishVersion(guard, self.revision_id or "(none reported)"))
        return (*out, *(Note(n) for n in self.notes))

    def done(self, version: str) -> str:
        return f"published version {version} of {self.function} serving {self.manifest.ref}"


def description_of(manifest: Manifest, note: str = "") -> str:
    text = f"slipway model {manifest.ref} sha256 {manifest.sha256}"
    return f"{text}: {note}"[:MAX_DESCRIPTION] if note.strip() else text


def resolve_dest(spec: str | None, env: Mapping[str, str], s3_client: Any) -> S3Store:
    """--s3-store / SLIPWAY_S3_STORE, else the store the function already reads from."""
    if spec:
        return S3Store.from_uri(spec, client=s3_client)
    current = env.get(MODEL, "")
    if is_s3_uri(current):
        return S3Store.holding(current, client=s3_client)
    raise InvalidRequest(
        "no S3 model store: pass --s3-store s3://BUCKET/PREFIX or set SLIPWAY_S3_STORE "
        "(the function reads its model from there)"
    )


def plan_publish(
    aws: Aws,
    *,
    function: str,
    ref: str,
    source: Store,
    s3_store: str | None,
    code: CodeChange | None = None,
    note: str = "",
) -> PublishPlan:
    name, version = parse_ref(ref)
    if version is None:
        raise InvalidRequest(f"--model {ref}: give NAME@VERSION; a release pins one version")
    config = aws.function(function)
    if code is not None:
        code.check_function(function, config)
    env = dict((config.get("Environment") or {}).get("Variables") or {})
    dest = resolve_dest(s3_store, env, aws.s3)
    try:
        manifest = source.manifest(name, version)
    except ModelNotFound as missing:
        # Registered straight into the S3 store (or pushed by an earlier release): the model
        # is where the function reads it already.
        try:
            with aws_errors(f"reading {dest}"):
                manifest, source = dest.manifest(name, version), dest
        except ModelNotFound:
            raise ModelNotFound(
                f"{missing} (in {source!r}), nor is it in {dest!r}: register it there, or "
                "point SLIPWAY_STORE / --source-store at its store"
            ) from None
    model = plan_push(aws, source, manifest, dest)
    variables = {**env, MODEL: model.uri, MODEL_SHA256: manifest.sha256}
    changed = {k: (env.get(k), v) for k, v in variables.items() if env.get(k) != v}
    notes: list[str] = []
    if config.get("LastUpdateStatus") == "InProgress":
        notes.append("note: an update is in progress now; the release waits for it first")
    future: Pins | None = None
    if code is None:
        future = pins(config, variables)
    elif code.sha256 is not None:
        future = pins({**config, "CodeSha256": code.sha256}, variables)
    return PublishPlan(
        function=function,
        model=model,
        manifest=manifest,
        dest=str(S3Uri(dest.bucket, dest.prefix)),
        variables=variables,
        changed=changed,
        description=description_of(manifest, note),
        code_sha256=str(config.get("CodeSha256", "")),
        revision_id=config.get("RevisionId"),
        code=code,
        notes=tuple(notes),
        pins=future,
    )


def execute_publish(aws: Aws, plan: PublishPlan, source: Store) -> dict[str, Any]:
    """Run the plan; returns the published version's configuration."""
    push(aws, source, plan.manifest, S3Store.from_uri(plan.dest, client=aws.s3), plan.model)
    aws.wait_until_updated(plan.function)
    code_sha256, revision = plan.code_sha256, plan.revision_id
    if plan.code is not None:
        zip_bytes = Path(plan.code.zip_path).read_bytes() if plan.code.zip_path else None
        updated = aws.update_code(
            plan.function, zip_bytes=zip_bytes, image_uri=plan.code.image_uri, revision_id=revision
        )
        config = aws.wait_until_updated(plan.function)
        # A zip's CodeSha256 is known beforehand; an image's is what Lambda reported for our
        # UpdateFunctionCode (it resolves the image), so a later change shows as a different one.
        expected = plan.code.sha256 or updated.get("CodeSha256")
        if expected and config.get("CodeSha256") != expected:
            what = plan.code.zip_path or plan.code.image_uri
            raise Conflict(
                f"{plan.function} reports CodeSha256 {config.get('CodeSha256')} after the code "
                f"update, not {expected} of {what}: another deploy raced "
                "this one. Nothing was published; run the command again"
            )
        code_sha256, revision = str(config.get("CodeSha256", "")), config.get("RevisionId")
    aws.update_configuration(
        plan.function, variables=plan.variables, description=plan.description, revision_id=revision
    )
    config = aws.wait_until_updated(plan.function)
    _check_env(plan, config, "$LATEST after the update")
    published = aws.publish(
        plan.function,
        code_sha256=code_sha256,
        revision_id=config.get("RevisionId"),
        description=plan.description,
    )
    _check_env(plan, published, f"version {published.get('Version')}")
    # Until the version is Active (SnapStart: minutes), Lambda refuses to invoke it.
    return aws.wait_version_active(plan.function, str(published["Version"]))


def _check_env(plan: PublishPlan, config: Mapping[str, Any], where: str) -> None:
    env = (config.get("Environment") or {}).get("Variables") or {}
    if (
        env.get(MODEL) != plan.variables[MODEL]
        or env.get(MODEL_SHA256) != plan.variables[MODEL_SHA256]
    ):
        raise Conflict(
            f"{plan.function} {where} serves {env.get(MODEL)}, not {plan.variables[MODEL]}: "
            "someone else changed the function meanwhile. Run `slipway status --target aws` and "
            "publish again"
        )
