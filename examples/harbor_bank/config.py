"""The bank's configuration, from environment variables.

==========================  ===================================================
``BANK_FRONTDESK_URL``      the Frontdesk node (service API, browser SDK)
``FRONTDESK_CLIENT_ID``     the bank's trusted-application credentials, from
``FRONTDESK_CLIENT_SECRET`` ``frontdesk apps create "Harbor Bank"``
``BANK_QUEUE``              the Frontdesk helpdesk queue "Talk to an advisor"
                            goes through (``advice``)
``BANK_ADVISOR``            Frontdesk username of the advisor who holds office
                            hours (``alice``)
``BANK_PUBLIC_URL``         the bank's own origin, e.g. ``http://127.0.0.1:8081``
                            (the only web origin allowed to use its guest tokens;
                            ``serve`` defaults it to the address it binds)
``BANK_DATABASE``           the bank's SQLite file (``var/harbor_bank.db``)
``BANK_SECRET_KEY``         key that signs the session cookie (random if unset)
==========================  ===================================================
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["BankConfig"]


@dataclass(frozen=True)
class BankConfig:
    frontdesk_url: str
    client_id: str
    client_secret: str
    public_url: str = ""  # required by create_app: the bank's own origin
    queue: str = "advice"
    advisor: str = "alice"
    database: str = "var/harbor_bank.db"
    secret_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, default_public_url: str = ""
    ) -> BankConfig:
        env = os.environ if env is None else env
        missing = [
            k
            for k in ("BANK_FRONTDESK_URL", "FRONTDESK_CLIENT_ID", "FRONTDESK_CLIENT_SECRET")
            if not env.get(k)
        ]
        public_url = env.get("BANK_PUBLIC_URL") or default_public_url
        if not public_url:
            missing.append("BANK_PUBLIC_URL")
        if missing:
            raise RuntimeError("Harbor Bank needs " + ", ".join(missing))
        key = env.get("BANK_SECRET_KEY")
        return cls(
            frontdesk_url=env["BANK_FRONTDESK_URL"].rstrip("/"),
            client_id=env["FRONTDESK_CLIENT_ID"],
            client_secret=env["FRONTDESK_CLIENT_SECRET"],
            public_url=public_url.rstrip("/"),
            queue=env.get("BANK_QUEUE", "advice"),
            advisor=env.get("BANK_ADVISOR", "alice"),
            database=env.get("BANK_DATABASE", "var/harbor_bank.db"),
            secret_key=key.encode() if key else secrets.token_bytes(32),
        )
