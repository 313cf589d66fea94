"""Application Load Balancer target group events.

https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html
The event has payload 1.0's fields with `requestContext.elb`. The load balancer reads only the
form its target group is set to: `multiValueHeaders` when multi-value headers are on (then
the event carries them alone), `headers` otherwise; the result answers in the same form.
"""

from __future__ import annotations

from typing import Any

from functions.predict.adapters.apigw_v1 import is_proxy_v1, read_v1
from functions.predict.adapters.payload import headers_of, text_of
from functions.predict.exchange import Answer, Request


class Alb:
    kind: str

    def __init__(self, multi: bool) -> None:
        self.multi = multi
        self.kind = "alb-multi" if multi else "alb"
        self.name = "Application Load Balancer" + (" (multi-value headers)" if multi else "")

    def infer(self, event: Any) -> bool:
        return (
            is_proxy_v1(event)
            and "elb" in event["requestContext"]
            and ("multiValueHeaders" in event) == self.multi
        )

    def read(self, event: Any) -> Request:
        return read_v1(event)

    def write(self, answer: Answer) -> dict[str, Any]:
        headers = headers_of(answer)
        if self.multi:
            return {
                "statusCode": answer.status,
                "body": text_of(answer),
                "isBase64Encoded": answer.binary,
                "multiValueHeaders": {k: [v] for k, v in headers.items()},
            }
        return {
            "statusCode": answer.status,
            "body": text_of(answer),
            "isBase64Encoded": answer.binary,
            "headers": headers,
        }


SOURCE = Alb(multi=False)
MULTI_SOURCE = Alb(multi=True)
