"""The strawman: FastAPI + Mangum as a tutorial writes it. Not Slipway; only here to compare.

Pydantic parses the body into list[list[float]], the route builds an array and returns plain
lists; Mangum runs with lifespan on (so every invoke runs the ASGI lifespan cycle).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI
from mangum import Mangum
from pydantic import BaseModel


class PredictRequest(BaseModel):
    inputs: list[list[float]]


def create_app(model_path: str) -> FastAPI:
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    output_names = [o.name for o in session.get_outputs()]
    app = FastAPI()

    @app.post("/predict")
    def predict(request: PredictRequest) -> dict[str, Any]:
        x = np.array(request.inputs, dtype=np.float32)
        results = session.run(None, {input_name: x})
        return {"outputs": {n: r.tolist() for n, r in zip(output_names, results, strict=True)}}

    return app


def create_handler(model_path: str) -> Mangum:
    return Mangum(create_app(model_path), lifespan="on")
