"""The classic entry point: `gunicorn functions.flask_api.api:app`.

The model is loaded here, at import: once per gunicorn worker, or once per Lambda execution
environment when the Lambda handler imports this module. A model that cannot be loaded fails
the import, so nothing is served half-loaded.
"""

from __future__ import annotations

import os

from functions.flask_api.app import create_app
from functions.predict.config import Settings
from functions.predict.service import PredictionService

service = PredictionService.from_settings(Settings.from_mapping(os.environ))
app = create_app(service)
