"""Error answers shared by every route."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError


def invalid_request(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's 422, written so that any input can be echoed: its own fails (a 500) on a JSON string
    holding a lone surrogate ("\\ud800") and on a body that is not UTF-8."""
    errors = jsonable_encoder(
        exc.errors(), custom_encoder={bytes: lambda raw: raw.decode("utf-8", "replace")}
    )
    return Response(json.dumps({"detail": errors}), status_code=422, media_type="application/json")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
