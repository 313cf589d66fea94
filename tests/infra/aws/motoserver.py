"""`moto_server`, with the gaps `osls deploy` of serverless.yml runs into filled.

moto 5's CloudFormation, where AWS behaves otherwise:
- A function it creates has no layers (its `Layers` property is dropped; an update sets them),
  so the first update of an unchanged function seems to change it.
- An `AWS::Lambda::LayerVersion` has no update (on AWS, new content replaces it with the next
  version) and no physical id, so its `Ref` (the version's ARN on AWS) is the resource
  object, or None once a stack update touched it: the first deploy works, and every later
  update of a function with layers fails inside moto's change set.
- Executing a change set (osls v3 deploys with change sets) leaves the stack's outputs as
  they were, so osls never finds the layer hash it wrote and uploads an unchanged layer again
  (a new layer version, so a new function version, on every deploy).
- An output moto cannot compute (a `Fn::GetAtt` of a resource type it does not model, such as
  the HTTP API's endpoint) fails the whole DescribeStacks.

Here a function is created with its layers, a layer version answers its ARN and an update
publishes the next version, an executed change set's outputs are its template's, and an
output moto cannot compute is left out.
Everything else is moto as installed.

    python -m tests.infra.aws.motoserver -H 127.0.0.1 -p PORT   # moto_server's own flags
"""

from __future__ import annotations

from typing import Any

from moto.awslambda.models import LambdaFunction, LayerVersion
from moto.cloudformation import parsing
from moto.cloudformation.models import ChangeSet
from moto.server import main

_apply = ChangeSet.apply
_parse_output = parsing.parse_output
_create_function = LambdaFunction.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def _create_with_layers(
    cls: type[LambdaFunction],
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> LambdaFunction:
    fn: LambdaFunction = _create_function(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    )
    layers = cloudformation_json["Properties"].get("Layers")
    if layers:
        fn.layers = fn._get_layers_data(layers)
    return fn


def _arn(self: LayerVersion) -> str:
    return str(self.arn)


def _replace(
    cls: type[LayerVersion],
    original_resource: LayerVersion,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> LayerVersion:
    return cls.create_from_cloudformation_json(
        new_resource_name, cloudformation_json, account_id, region_name
    )


def _apply_with_outputs(self: ChangeSet) -> None:
    _apply(self)
    self.stack.template = self.template
    self.stack._parse_template()
    self.stack.output_map = self.stack._create_output_map()


def _output_or_none(logical_id: str, output_json: Any, resources: Any) -> Any:
    try:
        return _parse_output(logical_id, output_json, resources)
    except Exception:  # moto's: a GetAtt of a resource type it does not model
        return None


def patch() -> None:
    LambdaFunction.create_from_cloudformation_json = classmethod(_create_with_layers)  # type: ignore[assignment, arg-type]
    if "physical_resource_id" not in vars(LayerVersion):
        LayerVersion.physical_resource_id = property(_arn)  # type: ignore[attr-defined]
    if getattr(LayerVersion.update_from_cloudformation_json, "__isabstractmethod__", False):
        LayerVersion.update_from_cloudformation_json = classmethod(_replace)  # type: ignore[assignment]
    ChangeSet.apply = _apply_with_outputs  # type: ignore[method-assign]
    parsing.parse_output = _output_or_none  # type: ignore[assignment]


if __name__ == "__main__":
    patch()
    main()
