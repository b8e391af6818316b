"""Every error as ``application/problem+json`` (RFC 9457) with a stable ``code``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from frontdesk.errors import FrontdeskError, NotFound, ValidationFailed

__all__ = ["PROBLEM_TYPE", "install_problem_handlers", "problem_response"]

log = logging.getLogger(__name__)
PROBLEM_TYPE = "application/problem+json"
#: Retry-After of a 429 or 503 whose error did not say how long to wait.
DEFAULT_RETRY_AFTER_S = 2

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "limit_exceeded",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def problem_response(err: FrontdeskError, headers: dict[str, str] | None = None) -> JSONResponse:
    hdrs = dict(headers or {})
    if err.status == 401:
        hdrs.setdefault("WWW-Authenticate", 'Bearer error="invalid_token"')
    if "retry_after" in err.extra:
        hdrs["Retry-After"] = str(max(1, round(float(err.extra["retry_after"]))))
    elif err.status in (429, 503):  # always say when trying again makes sense
        hdrs.setdefault("Retry-After", str(DEFAULT_RETRY_AFTER_S))
    return JSONResponse(
        err.to_dict(), status_code=err.status, media_type=PROBLEM_TYPE, headers=hdrs
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for e in exc.errors():
        out.append(
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
        )
    return out


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(FrontdeskError)
    async def _frontdesk(request: Request, exc: FrontdeskError) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = _validation_errors(exc)
        first = errs[0] if errs else {"loc": [], "msg": "invalid"}
        detail = f"{'.'.join(first['loc'])}: {first['msg']}"
        return problem_response(ValidationFailed(detail, errors=errs))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return problem_response(NotFound(f"no route for {request.url.path}"))
        err = FrontdeskError(str(exc.detail))
        err.status = exc.status_code  # type: ignore[misc]
        err.code = _STATUS_CODES.get(exc.status_code, "error")  # type: ignore[misc]
        err.title = str(exc.detail)  # type: ignore[misc]
        return problem_response(err, headers=dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(FrontdeskError("internal error; see the server log"))
