"""Lambda Function URL events: payload format 2.0, on the function's own domain.

https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
The request and the result have HTTP API's payload 2.0 format (apigw_v2); the event is told
apart by `requestContext.domainName` (apigw_v2.is_function_url).
"""

from __future__ import annotations

from typing import Any

from functions.predict.adapters.apigw_v2 import is_function_url, is_payload_v2, read_v2, write_v2


class FunctionUrl:
    name = "Lambda Function URL"
    kind = "v2"

    def infer(self, event: Any) -> bool:
        return is_payload_v2(event) and is_function_url(event)

    read = staticmethod(read_v2)
    write = staticmethod(write_v2)


SOURCE = FunctionUrl()
