"""Lambda's calls in the shapes the release commands need: read, wait, write, invoke.

Every read of a function and its versions and aliases, the two waits (an update applied, a
published version Active), the guarded writes (RevisionId, CodeSha256) and a version's invoke.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import WaiterError

from infra.aws.calls import Calls, plain
from infra.aws.exceptions import NotFound, UpdateFailed, UpdateInProgress
from infra.aws.history import Target, routing_config

if TYPE_CHECKING:  # the stubs are a dev dependency: no import, and no cost, at run time
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import (
        AliasRoutingConfigurationUnionTypeDef,
        CreateAliasRequestTypeDef,
        GetFunctionConfigurationRequestTypeDef,
        PublishVersionRequestTypeDef,
        UpdateAliasRequestTypeDef,
        UpdateFunctionCodeRequestTypeDef,
        UpdateFunctionConfigurationRequestTypeDef,
    )


class LambdaApi(Calls):
    lam: LambdaClient

    # -- Lambda: reading ------------------------------------------------------------
    def function(self, name: str, qualifier: str | None = None) -> dict[str, Any]:
        request: GetFunctionConfigurationRequestTypeDef = {"FunctionName": name}
        if qualifier is not None:
            request["Qualifier"] = qualifier
        where = f"{name}:{qualifier}" if qualifier else name
        return plain(
            self._call(
                f"GetFunctionConfiguration {where}",
                lambda: self.lam.get_function_configuration(**request),
            )
        )

    def alias(self, function: str, name: str) -> dict[str, Any] | None:
        try:
            return plain(
                self._call(
                    f"GetAlias {name} of {function}",
                    lambda: self.lam.get_alias(FunctionName=function, Name=name),
                )
            )
        except NotFound:
            self.function(function)  # a missing function is an error, a missing alias is not
            return None

    def versions(self, function: str) -> list[dict[str, Any]]:
        pages = self.lam.get_paginator("list_versions_by_function")
        found = self._items(
            f"ListVersionsByFunction {function}", pages.paginate(FunctionName=function), "Versions"
        )
        return sorted(
            (v for v in found if v.get("Version") != "$LATEST"), key=lambda v: int(v["Version"])
        )

    def aliases(self, function: str) -> list[dict[str, Any]]:
        pages = self.lam.get_paginator("list_aliases")
        found = self._items(
            f"ListAliases {function}", pages.paginate(FunctionName=function), "Aliases"
        )
        return sorted(found, key=lambda a: str(a["Name"]))

    def _items(
        self, what: str, pages: Iterable[Mapping[str, Any]], key: str
    ) -> list[dict[str, Any]]:
        """Every page's `key` items; a paginator calls AWS as it is read, so read it here."""
        return self._call(what, lambda: [plain(i) for page in pages for i in page.get(key, [])])

    def wait_until_updated(self, function: str) -> dict[str, Any]:
        """Wait until LastUpdateStatus is Successful (boto3's function_updated_v2, which polls
        GetFunction: its own 100 requests/s quota, not the 15/s the writes share); returns
        the function's configuration as the last poll saw it."""
        try:
            answer = self._wait(
                self.lam.get_waiter("function_updated_v2"),
                f"GetFunction {function}",
                lambda: self.lam.get_function(FunctionName=function),
                self.waits.update_polls,
            )
        except WaiterError as exc:
            config = plain(exc.last_response).get("Configuration") or {}
            if config.get("LastUpdateStatus") == "Failed":
                raise UpdateFailed(
                    f"Lambda could not apply the update to {function}: "
                    f"{config.get('LastUpdateStatusReasonCode', 'Failed')}: "
                    f"{config.get('LastUpdateStatusReason', '')}. "
                    "Fix the cause, then run the command again"
                ) from exc
            raise UpdateInProgress(
                f"{function} is still updating after "
                f"{self.waits.update_polls * self.waits.poll_s:.0f} s (LastUpdateStatus "
                f"{config.get('LastUpdateStatus', 'InProgress')}); check it in the console or "
                "with `aws lambda get-function-configuration`, then run the command again"
            ) from exc
        return plain(answer["Configuration"])

    def wait_version_active(self, function: str, version: str) -> dict[str, Any]:
        """Wait until a published version's State is Active (boto3's published_version_active);
        returns its configuration. Until then Lambda refuses to invoke it."""
        try:
            return self._wait(
                self.lam.get_waiter("published_version_active"),
                f"GetFunctionConfiguration {function}:{version}",
                lambda: self.lam.get_function_configuration(
                    FunctionName=function, Qualifier=version
                ),
                self.waits.version_polls,
            )
        except WaiterError as exc:
            config = plain(exc.last_response)
            if config.get("State") == "Failed":
                raise UpdateFailed(
                    f"version {version} of {function} did not become Active: "
                    f"{config.get('StateReasonCode', 'Failed')}: {config.get('StateReason', '')}. "
                    "Fix the cause (for SnapStart, the function's init), then publish again"
                ) from exc
            raise UpdateInProgress(
                f"version {version} of {function} is still {config.get('State', 'Pending')} "
                f"after {self.waits.version_polls * self.waits.poll_s:.0f} s; check it with "
                f"`aws lambda get-function-configuration --function-name {function} "
                f"--qualifier {version}`, then run the command again"
            ) from exc

    # -- Lambda: writing ------------------------------------------------------------
    def update_configuration(
        self,
        function: str,
        *,
        variables: Mapping[str, str],
        description: str,
        revision_id: str | None,
    ) -> dict[str, Any]:
        request: UpdateFunctionConfigurationRequestTypeDef = {
            "FunctionName": function,
            "Environment": {"Variables": dict(variables)},
            "Description": description,
        }
        if revision_id:  # AWS always returns one; an emulator may not: nothing to guard then
            request["RevisionId"] = revision_id
        return self._write(
            f"UpdateFunctionConfiguration {function}",
            lambda: self.lam.update_function_configuration(**request),
        )

    def update_code(
        self,
        function: str,
        *,
        zip_bytes: bytes | None,
        image_uri: str | None,
        revision_id: str | None,
    ) -> dict[str, Any]:
        request: UpdateFunctionCodeRequestTypeDef = {"FunctionName": function, "Publish": False}
        if image_uri is not None:
            request["ImageUri"] = image_uri
        elif zip_bytes is not None:
            request["ZipFile"] = zip_bytes
        if revision_id:
            request["RevisionId"] = revision_id
        return self._write(
            f"UpdateFunctionCode {function}", lambda: self.lam.update_function_code(**request)
        )

    def publish(
        self, function: str, *, code_sha256: str, revision_id: str | None, description: str
    ) -> dict[str, Any]:
        request: PublishVersionRequestTypeDef = {
            "FunctionName": function,
            "CodeSha256": code_sha256,  # the guard: Lambda refuses if $LATEST's code changed
            "Description": description,
        }
        if revision_id:
            request["RevisionId"] = revision_id
        return self._write(
            f"PublishVersion {function}", lambda: self.lam.publish_version(**request)
        )

    def create_alias(
        self, function: str, name: str, target: Target, description: str
    ) -> dict[str, Any]:
        request: CreateAliasRequestTypeDef = {
            "FunctionName": function,
            "Name": name,
            "FunctionVersion": target.version,
            "Description": description,
            "RoutingConfig": _routing(target),
        }
        return plain(
            self._call(
                f"CreateAlias {name} of {function}", lambda: self.lam.create_alias(**request)
            )
        )

    def update_alias(
        self, function: str, name: str, target: Target, description: str, revision_id: str | None
    ) -> dict[str, Any]:
        request: UpdateAliasRequestTypeDef = {
            "FunctionName": function,
            "Name": name,
            "FunctionVersion": target.version,
            "Description": description,
            "RoutingConfig": _routing(target),
        }
        if revision_id:
            request["RevisionId"] = revision_id
        return self._write(
            f"UpdateAlias {name} of {function}", lambda: self.lam.update_alias(**request)
        )

    def invoke(self, function: str, qualifier: str, payload: bytes) -> tuple[str | None, bytes]:
        """Invoke one version synchronously; returns (FunctionError or None, payload)."""
        response = self._call(
            f"Invoke {function}:{qualifier}",
            lambda: self.lam.invoke(
                FunctionName=function,
                Qualifier=qualifier,
                InvocationType="RequestResponse",
                Payload=payload,
            ),
            retry_conflict=True,  # a version still Pending answers ResourceConflictException
        )
        return response.get("FunctionError"), response["Payload"].read()


def _routing(target: Target) -> AliasRoutingConfigurationUnionTypeDef:
    """The alias's RoutingConfig (from history.routing_config) in the stubs' type."""
    return cast("AliasRoutingConfigurationUnionTypeDef", routing_config(target))
