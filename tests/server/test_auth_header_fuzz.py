"""Any ``Authorization`` header a client can send gets a typed 4xx answer, never
a 5xx: Basic on the token endpoint, Bearer on the service API, discovery and the
user API (the schemathesis run always sends a valid header, so it misses these)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frontdesk.server.ratelimit import RateLimiter
from tests.server.conftest import Harness

# Header values are latin-1 octets on the wire (RFC 9110 field-value; h11 refuses CR/LF/NUL).
_OCTETS = st.binary(max_size=200).map(
    lambda b: bytes(c for c in b if c not in (0, 10, 13)).decode("latin-1")
)
_SCHEMES = st.sampled_from(["Basic ", "Bearer ", "basic ", "", "Digest "])
_HEADER = st.builds(lambda s, v: (s + v).strip() or "x", _SCHEMES, _OCTETS)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(header=_HEADER, path=st.sampled_from(["/v1/meetings", "/v1/discovery/m_x", "/v1/me"]))
async def test_any_authorization_header_is_a_typed_refusal(
    harness: Harness, header: str, path: str
) -> None:
    harness.app.state.auth_limiter = RateLimiter(10**6, burst=10**6)
    client = harness.http
    headers = [(b"authorization", header.encode("latin-1"))]
    token = await client.post(
        "/v1/oauth/token", data={"grant_type": "client_credentials"}, headers=headers
    )
    assert token.status_code in (400, 401), (header, token.status_code, token.text)
    assert token.json()["code"] in ("invalid_client", "validation_failed")
    api = await client.get(path, headers=headers)
    assert 400 <= api.status_code < 500, (header, path, api.status_code, api.text)
    assert api.headers["content-type"].startswith("application/problem+json")
