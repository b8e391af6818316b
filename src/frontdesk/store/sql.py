"""The SQLAlchemy (async Core) implementation of :class:`~frontdesk.store.base.Store`.

One class for SQLite and PostgreSQL; the differences live in
:mod:`frontdesk.store.engine`. Every public method raises only
``frontdesk.errors``: a duplicate key is ``AlreadyExists``, a missing row the
matching ``*NotFound``, a lost database ``Unavailable``.

Writes on SQLite are serialised inside the process by an ``asyncio.Lock``
(SQLite has a single writer; waiting on the lock is cheaper than waiting on
``busy_timeout`` in a driver thread) while reads run concurrently (WAL).
Other processes are kept in order by ``BEGIN IMMEDIATE`` and ``busy_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from frontdesk.domain.branding import Branding, Logo
from frontdesk.domain.model import (
    AccessPolicy,
    App,
    LobbyBypass,
    Meeting,
    MeetingState,
    User,
)
from frontdesk.errors import (
    AlreadyExists,
    AppNotFound,
    Conflict,
    MeetingEnded,
    MeetingNotFound,
    NotFound,
    Unavailable,
    UserNotFound,
    ValidationFailed,
)
from frontdesk.protocol.events import REDACTABLE, redact_record
from frontdesk.store import tables as t
from frontdesk.store.base import (
    EventRecord,
    Fence,
    Lease,
    LeaseHeld,
    LeaseLost,
    SigningKeyRecord,
    Store,
    TokenUse,
    WebhookRecord,
)
from frontdesk.store.engine import WRITE_OPTIONS, json_loads, make_engine, translate_db_error
from frontdesk.store.helpdesk_sql import SqlHelpdeskStore
from frontdesk.store.migrate import upgrade_engine
from frontdesk.store.outbox import ClaimedDelivery, DeliveryState, WebhookDelivery

__all__ = ["SqlStore"]

log = logging.getLogger(__name__)

_DB_ERRORS = (SQLAlchemyError, OSError, TimeoutError)
_ERROR_CHARS = 500  # of a webhook delivery's last error


def _refusal(
    driver_error: BaseException | None, what: str, missing: type[NotFound]
) -> Conflict | NotFound:
    """What a constraint violation means to the caller: a dangling foreign key is
    ``missing``, anything else (a duplicate key) ``AlreadyExists``."""
    if getattr(driver_error, "sqlstate", None) == "23503":  # PostgreSQL foreign_key_violation
        return missing(f"{what} refers to a missing row")
    if "FOREIGN KEY constraint failed" in str(driver_error):  # SQLite
        return missing(f"{what} refers to a missing row")
    return AlreadyExists(f"{what} already exists")


class SqlStore(Store):
    """A :class:`Store` on SQLite (``sqlite+aiosqlite:///file``) or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self.shared = not self._sqlite
        self._writer = engine.execution_options(**WRITE_OPTIONS)
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self._sqlite else None
        self._lookups = _SqliteLookups.for_engine(engine) if self._sqlite else None
        self._event_insert = _SqliteEventInsert(engine.dialect) if self._sqlite else None
        #: SQLite: the connection event batches are appended on (see
        #: _append_events_sqlite), held while the store is open.
        self._event_conn: PoolProxiedConnection | None = None
        # Meetings waiting to be inserted together (SQLite: one writer; see
        # create_meeting), and the task inserting them.
        self._new_meetings: list[tuple[Meeting, asyncio.Future[None]]] = []
        self._meeting_inserter: asyncio.Task[None] | None = None
        self.helpdesk = SqlHelpdeskStore(self)

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True, schema: str | None = None) -> SqlStore:
        """Connect to ``url`` and, unless ``migrate=False``, upgrade the schema to head.

        ``schema`` (PostgreSQL only) sets the ``search_path`` of every connection.
        """
        engine = make_engine(url, schema=schema)
        try:
            if migrate:
                await upgrade_engine(engine)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    # --- plumbing ------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self._engine.connect() as conn:
                yield conn
        except _DB_ERRORS as exc:
            raise translate_db_error(exc) from exc

    @contextlib.asynccontextmanager
    async def _write(
        self, what: str, missing: type[NotFound] = NotFound
    ) -> AsyncIterator[AsyncConnection]:
        """One transaction; a duplicate key becomes ``AlreadyExists``, a dangling
        foreign key ``missing``."""
        lock = self._write_lock if self._write_lock is not None else contextlib.nullcontext()
        async with lock:
            try:
                async with self._writer.begin() as conn:
                    yield conn
            except IntegrityError as exc:
                raise _refusal(exc.orig, what, missing) from None
            except _DB_ERRORS as exc:
                raise translate_db_error(exc) from exc

    async def _one(self, stmt: sa.Select[Any]) -> RowMapping | None:
        async with self._read() as conn:
            row: RowMapping | None = (await conn.execute(stmt)).mappings().first()
            return row

    async def _by_key(self, by: _ByKey, key: str) -> Mapping[Any, Any] | None:
        """The row of ``by``'s table whose key is ``key``: read directly on SQLite
        when it can be (:class:`_SqliteLookups`), else through SQLAlchemy."""
        if self._lookups is not None:
            found = self._lookups.one(by.sql, key)
            if found is not _FALL_BACK:
                return None if found is None else by.rows.mapping(found)
        return await self._one(sa.select(by.table).where(by.key == key))

    async def _all(self, stmt: sa.Select[Any]) -> Sequence[RowMapping]:
        async with self._read() as conn:
            rows: Sequence[RowMapping] = (await conn.execute(stmt)).mappings().all()
            return rows

    # --- lifecycle -------------------------------------------------------------------
    async def close(self) -> None:
        if self._meeting_inserter is not None:
            with contextlib.suppress(Exception):
                await self._meeting_inserter
        if self._lookups is not None:
            self._lookups.close()
        if self._event_conn is not None:
            conn, self._event_conn = self._event_conn, None
            with contextlib.suppress(Exception):
                await greenlet_spawn(conn.close)  # back to the pool, which closes it
        await self._engine.dispose()

    async def ping(self) -> None:
        async with self._read() as conn:
            await conn.execute(sa.text("SELECT 1"))

    # --- trusted applications -----------------------------------------------------------
    async def create_app(self, app: App) -> None:
        async with self._write(f"app {app.client_id!r}") as conn:
            await conn.execute(sa.insert(t.apps).values(**_app_row(app)))

    async def get_app(self, client_id: str) -> App:
        row = await self._by_key(_APPS, client_id)
        if row is None:
            raise AppNotFound(f"no app {client_id!r}")
        return _app(row)

    async def list_apps(self) -> Sequence[App]:
        rows = await self._all(sa.select(t.apps).order_by(t.apps.c.created_at, t.apps.c.client_id))
        return [_app(r) for r in rows]

    async def update_app_secret(self, app: App) -> None:
        c = t.apps.c
        async with self._write(f"app {app.client_id!r}") as conn:
            result = await conn.execute(
                sa.update(t.apps)
                .where(c.client_id == app.client_id, c.revoked_at.is_(None))
                .values(
                    secret_hash=app.secret_hash,
                    previous_secret_hash=app.previous_secret_hash,
                    previous_secret_until=app.previous_secret_until,
                )
            )
        if result.rowcount != 1:
            raise AppNotFound(f"no active app {app.client_id!r}")

    async def revoke_app(self, client_id: str, now: datetime) -> App:
        c = t.apps.c
        async with self._write(f"app {client_id!r}") as conn:
            await conn.execute(
                sa.update(t.apps)
                .where(c.client_id == client_id, c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            query = sa.select(t.apps).where(c.client_id == client_id)
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise AppNotFound(f"no app {client_id!r}")
        return _app(row)

    # --- application branding ---------------------------------------------------------------
    async def get_branding(self, client_id: str) -> Branding:
        c = t.app_branding.c
        row = await self._one(
            sa.select(c.display_name, c.accent, c.logo_type, c.logo_etag, c.updated_at).where(
                c.client_id == client_id
            )
        )
        return Branding() if row is None else Branding(**row)

    async def _upsert_branding(
        self, client_id: str, values: dict[str, Any], now: datetime
    ) -> Branding:
        dialect_insert = postgresql.insert if not self._sqlite else sqlite.insert
        values = {**values, "updated_at": now}
        stmt = dialect_insert(t.app_branding).values(client_id=client_id, **values)
        stmt = stmt.on_conflict_do_update(index_elements=[t.app_branding.c.client_id], set_=values)
        async with self._write(f"branding of app {client_id!r}", AppNotFound) as conn:
            await conn.execute(stmt)
        return await self.get_branding(client_id)

    async def save_branding(
        self, client_id: str, *, display_name: str | None, accent: str | None, now: datetime
    ) -> Branding:
        Branding(display_name=display_name, accent=accent)  # refuse what is not valid
        values: dict[str, Any] = {"display_name": display_name, "accent": accent}
        return await self._upsert_branding(client_id, values, now)

    async def save_logo(self, client_id: str, logo: Logo | None, now: datetime) -> Branding:
        values: dict[str, Any] = {
            "logo_type": logo.content_type if logo else None,
            "logo_etag": logo.etag if logo else None,
            "logo": logo.data if logo else None,
        }
        return await self._upsert_branding(client_id, values, now)

    async def get_logo(self, etag: str) -> Logo | None:
        c = t.app_branding.c
        row = await self._one(
            sa.select(c.logo_type, c.logo_etag, c.logo)
            .where(c.logo_etag == etag, c.logo.is_not(None))
            .limit(1)
        )
        if row is None:
            return None
        return Logo(row["logo_type"], bytes(row["logo"]), row["logo_etag"])

    # --- users -----------------------------------------------------------------------------
    async def create_user(self, user: User) -> None:
        async with self._write(f"user {user.username!r}") as conn:
            await conn.execute(sa.insert(t.users).values(**_user_row(user)))

    async def get_user(self, username: str) -> User:
        row = await self._by_key(_USERS, username)
        if row is None:
            raise UserNotFound(f"no user {username!r}")
        return _user(row)

    async def list_users(self) -> Sequence[User]:
        rows = await self._all(sa.select(t.users).order_by(t.users.c.username))
        return [_user(r) for r in rows]

    async def update_user(self, user: User) -> None:
        values = _user_row(user)
        del values["username"]
        async with self._write(f"user {user.username!r}") as conn:
            result = await conn.execute(
                sa.update(t.users).where(t.users.c.username == user.username).values(**values)
            )
            if result.rowcount == 0:
                raise UserNotFound(f"no user {user.username!r}")

    async def delete_user(self, username: str) -> None:
        async with self._write(f"user {username!r}") as conn:
            result = await conn.execute(sa.delete(t.users).where(t.users.c.username == username))
            if result.rowcount == 0:
                raise UserNotFound(f"no user {username!r}")

    # --- meetings --------------------------------------------------------------------------
    async def create_meeting(self, meeting: Meeting) -> None:
        if self._write_lock is None:  # PostgreSQL: writers do not queue for one lock
            await self._insert_meeting(meeting)
            return
        # SQLite has one writer: meetings created while a transaction is under
        # way are inserted together in the next one (group commit), each
        # caller answered when its row is committed. A batch refused as a whole
        # (a duplicate id or join code) is retried row by row, so that only
        # the offending meeting fails.
        done = asyncio.get_running_loop().create_future()
        self._new_meetings.append((meeting, done))
        if self._meeting_inserter is None or self._meeting_inserter.done():
            self._meeting_inserter = asyncio.create_task(
                self._insert_new_meetings(), name="frontdesk-meeting-inserts"
            )
        await done

    async def _insert_meetings_in(self, conn: AsyncConnection, meetings: Sequence[Meeting]) -> None:
        """Insert meetings within a transaction of another write (a helpdesk decision)."""
        await conn.execute(sa.insert(t.meetings), [_meeting_row(m) for m in meetings])

    async def _hand_over_in(self, conn: AsyncConnection, organizers: Mapping[str, str]) -> None:
        """Give meetings new organizers within another write's transaction: each
        change is a new revision (a concurrent change read before it retries)."""
        c = t.meetings.c
        for meeting_id, organizer in organizers.items():
            await conn.execute(
                sa.update(t.meetings)
                .where(
                    c.id == meeting_id,
                    c.state != MeetingState.ENDED.value,
                    c.organizer != organizer,
                )
                .values(organizer=organizer, revision=c.revision + 1)
            )

    async def _insert_meeting(self, meeting: Meeting) -> None:
        async with self._write(f"meeting {meeting.id!r} or its join code") as conn:
            await conn.execute(sa.insert(t.meetings).values(**_meeting_row(meeting)))

    async def _insert_new_meetings(self) -> None:
        batch: list[tuple[Meeting, asyncio.Future[None]]] = []
        try:
            while self._new_meetings:
                batch, self._new_meetings = self._new_meetings, []
                await self._insert_batch([(m, d) for m, d in batch if not d.done()])
        finally:  # cancelled (the loop is closing): no caller waits forever
            for _, done in (*batch, *self._new_meetings):
                if not done.done():
                    done.set_exception(Unavailable("the store is closing"))

    async def _insert_batch(self, batch: list[tuple[Meeting, asyncio.Future[None]]]) -> None:
        if len(batch) > 1:
            try:
                async with self._write(f"{len(batch)} meetings") as conn:
                    await conn.execute(sa.insert(t.meetings), [_meeting_row(m) for m, _ in batch])
            except Exception:
                log.debug("a batch of %d meetings was refused; one by one", len(batch))
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
                return
        for meeting, done in batch:
            try:
                await self._insert_meeting(meeting)
            except Exception as exc:
                if not done.done():
                    done.set_exception(exc)
            else:
                if not done.done():
                    done.set_result(None)

    async def get_meeting(self, meeting_id: str) -> Meeting:
        row = await self._by_key(_MEETINGS, meeting_id)
        if row is None:
            raise MeetingNotFound(f"no meeting {meeting_id!r}")
        return _meeting(row)

    async def get_meeting_by_join_code(self, join_code: str) -> Meeting:
        row = await self._one(sa.select(t.meetings).where(t.meetings.c.join_code == join_code))
        if row is None:
            raise MeetingNotFound("no meeting with this join code")
        return _meeting(row)

    async def list_meetings(
        self,
        *,
        organizer: str | None = None,
        state: MeetingState | None = None,
        app_id: str | None = None,
        visible_to_app: str | None = None,
        now: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[Meeting]:
        if limit < 0 or offset < 0:
            raise ValidationFailed("limit and offset must not be negative")
        c = t.meetings.c
        stmt = sa.select(t.meetings).order_by(c.created_at.desc(), c.id.desc())
        if organizer is not None:
            stmt = stmt.where(c.organizer == organizer)
        if state is not None:
            state = MeetingState(state)
            if now is None or state is MeetingState.ENDED:
                stmt = stmt.where(c.state == state.value)
            elif state is MeetingState.SCHEDULED:
                stmt = stmt.where(c.state != MeetingState.ENDED.value, c.starts_at > now)
            else:
                stmt = stmt.where(
                    c.state != MeetingState.ENDED.value,
                    sa.or_(c.starts_at.is_(None), c.starts_at <= now),
                )
        if app_id is not None:
            stmt = stmt.where(c.created_by_app == app_id)
        if visible_to_app is not None:
            stmt = stmt.where(
                sa.or_(c.created_by_app.is_(None), c.created_by_app == visible_to_app)
            )
        rows = await self._all(stmt.limit(limit).offset(offset))
        return [_meeting(r) for r in rows]

    async def idle_meetings(self, before: datetime, *, limit: int = 100) -> Sequence[str]:
        c, e = t.meetings.c, t.events.c
        last = sa.select(sa.func.max(e.at)).where(e.meeting_id == c.id).scalar_subquery()
        stmt = (
            sa.select(c.id)
            .where(
                c.state != MeetingState.ENDED.value,
                c.starts_at.is_(None),
                sa.func.coalesce(last, c.created_at) < before,
            )
            .order_by(c.created_at)
            .limit(limit)
        )
        return [r.id for r in await self._all(stmt)]

    async def update_meeting(self, meeting: Meeting) -> None:
        values = _meeting_row(meeting)
        del values["id"]
        c = t.meetings.c
        async with self._write(f"join code of meeting {meeting.id!r}") as conn:
            result = await conn.execute(
                sa.update(t.meetings)
                .where(
                    c.id == meeting.id,
                    c.revision == meeting.revision - 1,
                    c.state != MeetingState.ENDED.value,
                )
                .values(**values)
            )
            if result.rowcount == 1:
                return
            row = (
                await conn.execute(sa.select(c.state, c.revision).where(c.id == meeting.id))
            ).first()
        if row is None:
            raise MeetingNotFound(f"no meeting {meeting.id!r}")
        if row.state == MeetingState.ENDED.value:
            raise MeetingEnded(f"meeting {meeting.id} has ended")
        raise Conflict(
            f"meeting {meeting.id} changed meanwhile (revision {row.revision}, "
            f"change made from {meeting.revision - 1})"
        )

    # --- single-use guest tokens ---------------------------------------------------------
    async def consume_token(self, jti: str, meeting_id: str, expires_at: datetime) -> bool:
        async with self._write("token") as conn:
            spent = await self._spend(conn, [TokenUse(jti, meeting_id, expires_at)])
        return not spent

    async def _spend(self, conn: AsyncConnection, spends: Sequence[TokenUse]) -> frozenset[str]:
        """Record ``spends`` as used in ``conn``'s transaction; the ids that were
        used already (at most one row per id, whoever inserts first)."""
        dialect_insert = postgresql.insert if not self._sqlite else sqlite.insert
        stmt = dialect_insert(t.used_tokens).on_conflict_do_nothing(
            index_elements=[t.used_tokens.c.jti]
        )
        used = []
        for u in spends:  # one at a time: the statement compiles once, and is cached
            result = await conn.execute(
                stmt, {"jti": u.jti, "meeting_id": u.meeting_id, "expires_at": u.expires_at}
            )
            if result.rowcount != 1:
                used.append(u.jti)
        return frozenset(used)

    async def is_token_used(self, jti: str) -> bool:
        if self._lookups is not None:
            found = self._lookups.one(_USED_TOKEN_SQL, jti)
            if found is not _FALL_BACK:
                return found is not None
        row = await self._one(sa.select(t.used_tokens.c.jti).where(t.used_tokens.c.jti == jti))
        return row is not None

    async def purge_used_tokens(self, before: datetime) -> int:
        async with self._write("token") as conn:
            result = await conn.execute(
                sa.delete(t.used_tokens).where(t.used_tokens.c.expires_at < before)
            )
        return result.rowcount

    # --- signing keys ------------------------------------------------------------------
    async def list_signing_keys(self) -> Sequence[SigningKeyRecord]:
        c = t.signing_keys.c
        rows = await self._all(sa.select(t.signing_keys).order_by(c.created_at, c.kid))
        return [SigningKeyRecord(**r) for r in rows]

    async def add_signing_key(self, key: SigningKeyRecord) -> None:
        async with self._write(f"signing key {key.kid!r}") as conn:
            await conn.execute(
                sa.insert(t.signing_keys).values(
                    kid=key.kid,
                    private_pem=key.private_pem,
                    created_at=key.created_at,
                    retired_at=key.retired_at,
                    expires_at=key.expires_at,
                )
            )

    async def retire_signing_keys(
        self, *, except_kid: str, now: datetime, expires_at: datetime
    ) -> None:
        c = t.signing_keys.c
        async with self._write("signing key") as conn:
            await conn.execute(
                sa.update(t.signing_keys)
                .where(c.kid != except_kid, c.retired_at.is_(None))
                .values(retired_at=now, expires_at=expires_at)
            )

    async def delete_expired_signing_keys(self, now: datetime) -> int:
        c = t.signing_keys.c
        async with self._write("signing key") as conn:
            result = await conn.execute(
                sa.delete(t.signing_keys).where(c.expires_at.is_not(None), c.expires_at <= now)
            )
        return result.rowcount

    # --- meeting event log -----------------------------------------------------------------
    async def append_events(
        self,
        events: Sequence[EventRecord],
        fences: Mapping[str, Fence] | None = None,
        spends: Sequence[TokenUse] = (),
    ) -> frozenset[str]:
        if not events and not spends:
            return frozenset()
        if self._event_insert is not None and fences is None:
            return await self._append_events_sqlite(self._event_insert, events, spends)
        rows = [
            {"meeting_id": e.meeting_id, "seq": e.seq, "type": e.type, "data": e.data, "at": e.at}
            for e in events
        ]
        async with self._write("event (meeting_id, seq)", MeetingNotFound) as conn:
            if fences is not None:
                await self._check_fences(conn, {e.meeting_id for e in events}, fences)
            if rows:
                await conn.execute(sa.insert(t.events), rows)
            return await self._spend(conn, spends) if spends else frozenset()

    async def _append_events_sqlite(
        self, insert: _SqliteEventInsert, events: Sequence[EventRecord], spends: Sequence[TokenUse]
    ) -> frozenset[str]:
        """The hot path of every meeting (group commit of chat, a join and the
        single-use token it spends) on SQLite: one hop to the driver's thread
        for BEGIN IMMEDIATE, the inserts and COMMIT, rather than one per
        statement through SQLAlchemy (about 3x less CPU for a one-event commit)."""
        rows = insert.rows(events)
        uses = insert.uses(spends)
        used: list[str] = []

        def run(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(_SqliteEventInsert.SQL, rows)
                for jti, use in zip((u.jti for u in spends), uses, strict=True):
                    if db.execute(_SqliteEventInsert.SPEND_SQL, use).rowcount != 1:
                        used.append(jti)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        assert self._write_lock is not None
        async with self._write_lock:
            try:
                if self._event_conn is None:
                    # Kept out of the pool: no check-out, and no rollback hop
                    # to the driver's thread on every return.
                    self._event_conn = await self._engine.raw_connection()
                driver = self._event_conn.driver_connection
                # aiosqlite runs ``run`` in the connection's own thread
                await driver._execute(run, driver._conn)  # type: ignore[union-attr]
            except sqlite3.IntegrityError as exc:
                raise _refusal(exc, "event (meeting_id, seq)", MeetingNotFound) from None
            except BaseException as exc:
                await self._drop_event_conn()  # in an unknown state: a fresh one next time
                if isinstance(exc, sqlite3.Error):
                    err = sa.exc.OperationalError(_SqliteEventInsert.SQL, None, exc)
                    raise translate_db_error(err) from exc
                if isinstance(exc, _DB_ERRORS):
                    raise translate_db_error(exc) from exc
                raise
        return frozenset(used)

    async def _drop_event_conn(self) -> None:
        conn, self._event_conn = self._event_conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await greenlet_spawn(conn.invalidate)

    async def _check_fences(
        self, conn: AsyncConnection, meeting_ids: set[str], fences: Mapping[str, Fence]
    ) -> None:
        """Raise ``LeaseLost`` unless every meeting's lease is the writer's, unexpired;
        the rows stay share-locked until the transaction ends, so a takeover (an
        update of the row) waits for this write to commit or roll back."""
        c = t.meeting_leases.c
        stmt = (
            sa.select(c.meeting_id, c.owner, c.fence)
            .where(c.meeting_id.in_(sorted(meeting_ids)), c.expires_at > self._db_now())
            .with_for_update(read=True)
        )
        held = {r.meeting_id: Fence(r.owner, r.fence) for r in await conn.execute(stmt)}
        lost = [m for m in meeting_ids if m not in fences or held.get(m) != fences[m]]
        if lost:
            raise LeaseLost(lost)

    # --- meeting leases -----------------------------------------------------------------
    def _db_now(self) -> sa.ColumnElement[datetime]:
        """Now by the store's clock: PostgreSQL's ``clock_timestamp()`` (not the
        transaction's start; every node of a cluster agrees on it). SQLite is
        one process: its clock is this one's."""
        if self._sqlite:
            return sa.literal(datetime.now(UTC), t.UTCDateTime())
        return sa.func.clock_timestamp(type_=t.UTCDateTime())

    def _db_later(self, seconds: float) -> sa.ColumnElement[datetime]:
        """``seconds`` from now (negative: ago) by the store's clock."""
        if self._sqlite:
            return sa.literal(datetime.now(UTC) + timedelta(seconds=seconds), t.UTCDateTime())
        return sa.func.clock_timestamp(type_=t.UTCDateTime()) + sa.func.make_interval(
            0, 0, 0, 0, 0, 0, sa.literal(float(seconds), sa.Float())
        )

    async def acquire_lease(
        self, meeting_id: str, owner: str, node_url: str, ttl_s: float
    ) -> Lease:
        c = t.meeting_leases.c
        dialect_insert = postgresql.insert if not self._sqlite else sqlite.insert
        ins = dialect_insert(t.meeting_leases).values(
            meeting_id=meeting_id,
            owner=owner,
            node_url=node_url,
            fence=1,
            expires_at=self._db_later(ttl_s),
        )
        stmt = ins.on_conflict_do_update(
            index_elements=[c.meeting_id],
            set_={
                "owner": ins.excluded.owner,
                "node_url": ins.excluded.node_url,
                "fence": c.fence + 1,  # every acquisition fences off all earlier writers
                "expires_at": ins.excluded.expires_at,
            },
            where=sa.or_(c.expires_at <= self._db_now(), c.owner == ins.excluded.owner),
        ).returning(t.meeting_leases)
        async with self._write(f"lease of meeting {meeting_id!r}", MeetingNotFound) as conn:
            row = (await conn.execute(stmt)).mappings().first()
            if row is None:
                held = (
                    (
                        await conn.execute(
                            sa.select(t.meeting_leases).where(c.meeting_id == meeting_id)
                        )
                    )
                    .mappings()
                    .one()
                )
        if row is None:
            raise LeaseHeld(Lease(**held))
        return Lease(**row)

    async def renew_leases(self, owner: str, fences: Mapping[str, int], ttl_s: float) -> set[str]:
        if not fences:
            return set()
        c = t.meeting_leases.c
        stmt = (
            sa.update(t.meeting_leases)
            .where(
                c.owner == owner,
                sa.tuple_(c.meeting_id, c.fence).in_(sorted(fences.items())),
            )
            .values(expires_at=self._db_later(ttl_s))
            .returning(c.meeting_id)
        )
        async with self._write("leases") as conn:
            return {r.meeting_id for r in await conn.execute(stmt)}

    async def release_lease(self, meeting_id: str, fence: Fence) -> None:
        c = t.meeting_leases.c
        stmt = (
            sa.update(t.meeting_leases)
            .where(c.meeting_id == meeting_id, c.owner == fence.owner, c.fence == fence.number)
            .values(expires_at=self._db_now())
        )
        async with self._write(f"lease of meeting {meeting_id!r}") as conn:
            await conn.execute(stmt)

    async def current_lease(self, meeting_id: str) -> Lease | None:
        c = t.meeting_leases.c
        row = await self._one(
            sa.select(t.meeting_leases).where(
                c.meeting_id == meeting_id, c.expires_at > self._db_now()
            )
        )
        return Lease(**row) if row is not None else None

    async def events_since(
        self,
        meeting_id: str,
        after_seq: int,
        limit: int | None = None,
        *,
        types: Collection[str] | None = None,
    ) -> Sequence[EventRecord]:
        if self._lookups is not None and limit is None and types is None:
            # What a room restores and a resume replays: read directly (one
            # B-tree range, no hop to the driver's thread).
            found = self._lookups.all(_EVENTS_SINCE_SQL, (meeting_id, after_seq))
            if found is not _FALL_BACK:
                return [EventRecord(**_EVENT_ROWS.mapping(r)) for r in found]
        c = t.events.c
        stmt = (
            sa.select(t.events).where(c.meeting_id == meeting_id, c.seq > after_seq).order_by(c.seq)
        )
        if types is not None:
            stmt = stmt.where(c.type.in_(sorted(types)))
        if limit is not None:
            if limit < 0:
                raise ValidationFailed("limit must not be negative")
            stmt = stmt.limit(limit)
        rows = await self._all(stmt)
        return [EventRecord(**r) for r in rows]

    async def redact_events(
        self, *, before: datetime, now: datetime, limit: int
    ) -> Sequence[tuple[str, int]]:
        if limit <= 0:
            return []
        c = t.events.c
        pick = (
            sa.select(c.meeting_id, c.seq, c.type, c.data)
            .where(
                c.type.in_(sorted(REDACTABLE)),
                c.redacted_at.is_(None),
                c.at < before,
            )
            .order_by(c.type, c.at)
            .limit(limit)
        )
        if self._sqlite and not await self._all(pick.with_only_columns(c.seq)):
            return []  # nothing to do takes no write lock
        done: list[tuple[str, int]] = []
        async with self._write("event redaction") as conn:
            # Another node redacting at the same moment takes other rows (or
            # none): a row is locked by one, and skipped by the others.
            query = pick if self._sqlite else pick.with_for_update(skip_locked=True)
            rows = (await conn.execute(query)).mappings().all()
            if not rows:
                return []
            params = []
            for row in rows:
                # A record that says it is redacted already only gets its time.
                data = redact_record(row["type"], row["data"]) or row["data"]
                params.append({"b_meeting": row["meeting_id"], "b_seq": row["seq"], "b_data": data})
                done.append((row["meeting_id"], row["seq"]))
            await conn.execute(
                sa.update(t.events)
                .where(
                    c.meeting_id == sa.bindparam("b_meeting"),
                    c.seq == sa.bindparam("b_seq"),
                    c.redacted_at.is_(None),
                )
                .values(data=sa.bindparam("b_data", type_=t.events.c.data.type), redacted_at=now),
                params,
            )
        return done

    async def last_seq(self, meeting_id: str) -> int:
        stmt = sa.select(sa.func.coalesce(sa.func.max(t.events.c.seq), 0)).where(
            t.events.c.meeting_id == meeting_id
        )
        async with self._read() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    # --- applications that vouched a guest into an agent's meeting ------------------------
    async def add_meeting_guest_app(self, meeting_id: str, app_id: str, at: datetime) -> None:
        if app_id in await self.meeting_guest_apps(meeting_id):
            return
        try:
            async with self._write(f"guest app of meeting {meeting_id!r}") as conn:
                await conn.execute(
                    sa.insert(t.meeting_guest_apps).values(
                        meeting_id=meeting_id, app_id=app_id, created_at=at
                    )
                )
        except AlreadyExists:  # noted at the same moment by another join
            pass

    async def meeting_guest_apps(self, meeting_id: str) -> frozenset[str]:
        c = t.meeting_guest_apps.c
        rows = await self._all(sa.select(c.app_id).where(c.meeting_id == meeting_id))
        return frozenset(str(r["app_id"]) for r in rows)

    # --- webhooks ---------------------------------------------------------------------------
    async def create_webhook(self, hook: WebhookRecord) -> None:
        async with self._write(f"webhook {hook.id!r}", AppNotFound) as conn:
            await conn.execute(
                sa.insert(t.webhooks).values(
                    id=hook.id,
                    app_id=hook.app_id,
                    url=hook.url,
                    secret=hook.secret,
                    events=list(hook.events),
                    created_at=hook.created_at,
                    extra=dict(hook.extra),
                )
            )

    async def list_webhooks(self, app_id: str | None = None) -> Sequence[WebhookRecord]:
        c = t.webhooks.c
        stmt = sa.select(t.webhooks).order_by(c.created_at, c.id)
        if app_id is not None:
            stmt = stmt.where(c.app_id == app_id)
        return [_webhook(r) for r in await self._all(stmt)]

    async def delete_webhook(self, hook_id: str, app_id: str) -> None:
        c = t.webhooks.c
        async with self._write(f"webhook {hook_id!r}") as conn:
            result = await conn.execute(
                sa.delete(t.webhooks).where(c.id == hook_id, c.app_id == app_id)
            )
            if result.rowcount == 0:
                raise NotFound(f"no webhook {hook_id!r} for this app")

    # --- webhook outbox ------------------------------------------------------------------
    async def enqueue_webhook_deliveries(self, deliveries: Sequence[WebhookDelivery]) -> int:
        if not deliveries:
            return 0
        w = t.webhooks.c
        hooks = sa.select(w.id).where(w.id.in_(sorted({d.webhook_id for d in deliveries})))
        if not self._sqlite:  # as a foreign key check does: the hooks stay until commit
            hooks = hooks.with_for_update(key_share=True)
        dialect_insert = postgresql.insert if not self._sqlite else sqlite.insert
        async with self._write("webhook delivery") as conn:
            existing = set((await conn.execute(hooks)).scalars())
            rows = [_delivery_row(d) for d in deliveries if d.webhook_id in existing]
            if rows:
                stmt = (
                    dialect_insert(t.webhook_deliveries)
                    .values(next_attempt_at=self._db_now())
                    .on_conflict_do_nothing(index_elements=[t.webhook_deliveries.c.id])
                )
                await conn.execute(stmt, rows)
        return len(rows)

    async def claim_webhook_deliveries(
        self, node: str, *, limit: int, claim_s: float
    ) -> Sequence[ClaimedDelivery]:
        if limit <= 0:
            return []
        c = t.webhook_deliveries.c

        def due() -> sa.Select[Any]:
            now = self._db_now()
            return (
                sa.select(c.id)
                .where(
                    c.state == DeliveryState.PENDING.value,
                    c.next_attempt_at <= now,
                    sa.or_(c.claimed_until.is_(None), c.claimed_until <= now),
                )
                .order_by(c.next_attempt_at, c.created_at, c.id)
                .limit(limit)
            )

        if self._sqlite and not await self._all(due()):  # an idle poll takes no write lock
            return []
        async with self._write("webhook delivery claim") as conn:
            pick = due() if self._sqlite else due().with_for_update(skip_locked=True)
            claim = (
                sa.update(t.webhook_deliveries)
                .where(c.id.in_(pick))
                .values(
                    claimed_by=node,
                    claimed_until=self._db_later(claim_s),
                    attempts=c.attempts + 1,
                )
                .returning(t.webhook_deliveries)
            )
            claimed = [_delivery(r) for r in (await conn.execute(claim)).mappings().all()]
            if not claimed:
                return []
            w = t.webhooks.c
            hook_ids = sorted({d.webhook_id for d in claimed})
            query = sa.select(t.webhooks).where(w.id.in_(hook_ids))
            hooks = {r["id"]: _webhook(r) for r in (await conn.execute(query)).mappings()}
        claimed.sort(key=lambda d: (d.next_attempt_at or d.created_at, d.created_at, d.id))
        return [ClaimedDelivery(d, hooks[d.webhook_id]) for d in claimed]

    async def mark_webhook_delivered(self, delivery_id: str) -> bool:
        c = t.webhook_deliveries.c
        now = self._db_now()
        stmt = (
            sa.update(t.webhook_deliveries)
            .where(c.id == delivery_id, c.state == DeliveryState.PENDING.value)
            .values(
                state=DeliveryState.DELIVERED.value,
                delivered_at=now,
                next_attempt_at=now,
                claimed_by=None,
                claimed_until=None,
            )
        )
        async with self._write("webhook delivery") as conn:
            result = await conn.execute(stmt)
        return result.rowcount == 1

    async def retry_webhook_delivery(
        self, delivery_id: str, node: str, *, delay_s: float, error: str
    ) -> bool:
        return await self._settle_claim(
            delivery_id,
            node,
            next_attempt_at=self._db_later(delay_s),
            last_error=error[:_ERROR_CHARS],
        )

    async def fail_webhook_delivery(self, delivery_id: str, node: str, *, error: str) -> bool:
        return await self._settle_claim(
            delivery_id,
            node,
            state=DeliveryState.FAILED.value,
            next_attempt_at=self._db_now(),
            last_error=error[:_ERROR_CHARS],
        )

    async def _settle_claim(self, delivery_id: str, node: str, **values: Any) -> bool:
        c = t.webhook_deliveries.c
        stmt = (
            sa.update(t.webhook_deliveries)
            .where(
                c.id == delivery_id,
                c.state == DeliveryState.PENDING.value,
                c.claimed_by == node,
            )
            .values(claimed_by=None, claimed_until=None, **values)
        )
        async with self._write("webhook delivery") as conn:
            result = await conn.execute(stmt)
        return result.rowcount == 1

    async def release_webhook_claims(self, node: str) -> int:
        c = t.webhook_deliveries.c
        stmt = (
            sa.update(t.webhook_deliveries)
            .where(c.claimed_by == node, c.state == DeliveryState.PENDING.value)
            .values(claimed_by=None, claimed_until=None)
        )
        async with self._write("webhook delivery") as conn:
            result = await conn.execute(stmt)
        return result.rowcount

    async def purge_webhook_deliveries(self, older_than_s: float) -> int:
        c = t.webhook_deliveries.c
        finished = [DeliveryState.DELIVERED.value, DeliveryState.FAILED.value]
        stmt = sa.delete(t.webhook_deliveries).where(
            c.state.in_(finished),
            c.next_attempt_at < self._db_later(-older_than_s),
        )
        async with self._write("webhook delivery") as conn:
            result = await conn.execute(stmt)
        return result.rowcount

    async def list_webhook_deliveries(
        self, *, state: DeliveryState | None = None, limit: int = 100
    ) -> Sequence[WebhookDelivery]:
        if limit < 0:
            raise ValidationFailed("limit must not be negative")
        c = t.webhook_deliveries.c
        stmt = sa.select(t.webhook_deliveries).order_by(c.created_at, c.id).limit(limit)
        if state is not None:
            stmt = stmt.where(c.state == DeliveryState(state).value)
        return [_delivery(r) for r in await self._all(stmt)]


class _SqliteEventInsert:
    """Event rows bound for ``sqlite3`` directly, each value by its column's own
    type (the JSON ``data``, the UTC ``at``), as SQLAlchemy would bind them."""

    SQL = "INSERT INTO events (meeting_id, seq, type, data, at) VALUES (?, ?, ?, ?, ?)"
    NAMES = ("meeting_id", "seq", "type", "data", "at")
    #: A single-use token spent in the same transaction (``rowcount`` 0: spent before).
    SPEND_SQL = (
        "INSERT INTO used_tokens (jti, meeting_id, expires_at) VALUES (?, ?, ?) "
        "ON CONFLICT (jti) DO NOTHING"
    )

    def __init__(self, dialect: sa.Dialect) -> None:
        self.binds = tuple(t.events.c[n].type.bind_processor(dialect) for n in self.NAMES)
        self.bind_expiry = t.used_tokens.c.expires_at.type.bind_processor(dialect)

    def uses(self, spends: Sequence[TokenUse]) -> list[tuple[Any, ...]]:
        bind = self.bind_expiry
        return [(u.jti, u.meeting_id, bind(u.expires_at) if bind else u.expires_at) for u in spends]

    def rows(self, events: Sequence[EventRecord]) -> list[tuple[Any, ...]]:
        # Unrolled: this runs for every stored event.
        b_mid, b_seq, b_type, b_data, b_at = self.binds
        return [
            (
                b_mid(e.meeting_id) if b_mid else e.meeting_id,
                b_seq(e.seq) if b_seq else e.seq,
                b_type(e.type) if b_type else e.type,
                b_data(e.data) if b_data else e.data,
                b_at(e.at) if b_at else e.at,
            )
            for e in events
        ]


# --- primary-key lookups on SQLite ----------------------------------------------------------
class _Skip(enum.Enum):
    FALL_BACK = "read the usual way"


_FALL_BACK = _Skip.FALL_BACK


class _SqliteLookups:
    """The service API's primary-key reads (application, organizer, meeting) on
    SQLite, made on the event loop over a read-only connection of their own.

    Through SQLAlchemy and aiosqlite one such read is eight hops to the driver's
    thread and back (cursor, ``BEGIN``, execute, fetch, close, ``ROLLBACK`` ...),
    about a millisecond of CPU under load; the lookup itself is a B-tree probe
    of a few microseconds. In WAL mode a reader never waits for the writer; the
    connection has no busy timeout, so should the file be locked all the same
    (recovery, an exclusive checkpoint by another process) the read is not made
    here (:data:`_FALL_BACK`) and goes the usual way, as does any other error.
    Each read is its own transaction (autocommit): it sees every write committed
    before it, this process's or another's.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._broken = False

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> _SqliteLookups | None:
        database = engine.url.database or ""
        if not database or database.startswith("file:") or engine.url.query:
            return None  # URI file names and driver options: the usual way only
        return cls(database)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA query_only=ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def one(self, sql: str, key: str) -> tuple[Any, ...] | _Skip | None:
        """The row, ``None`` when there is none, or :data:`_FALL_BACK`."""
        found = self.all(sql, (key,))
        if found is _FALL_BACK:
            return _FALL_BACK
        return found[0] if found else None

    def all(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]] | _Skip:
        """Every row, or :data:`_FALL_BACK`."""
        if self._broken:
            return _FALL_BACK
        try:
            conn = self._conn
            if conn is None:
                conn = self._conn = self._connect()
            rows: list[tuple[Any, ...]] = conn.execute(sql, params).fetchall()
            return rows
        except sqlite3.Error as exc:
            if not isinstance(exc, sqlite3.OperationalError) or "locked" not in str(exc):
                log.warning("direct SQLite reads disabled: %s", exc)
                self._broken = True  # e.g. the file is gone: the usual path reports it
                self.close()
            return _FALL_BACK

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _utc(value: str) -> datetime:
    """A timestamp as SQLAlchemy stores it on SQLite (naive UTC text)."""
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class _SqliteRows:
    """Rows of one table as read by :class:`_SqliteLookups`, turned into the
    mappings SQLAlchemy would have given: timestamps aware UTC, booleans bool."""

    def __init__(self, table: sa.Table) -> None:
        self.names = tuple(c.name for c in table.columns)
        self.convert = tuple(_sqlite_converter(c.type) for c in table.columns)

    def mapping(self, row: tuple[Any, ...]) -> dict[str, Any]:
        return {
            name: value if value is None or convert is None else convert(value)
            for name, convert, value in zip(self.names, self.convert, row, strict=True)
        }


def _sqlite_converter(kind: sa.types.TypeEngine[Any]) -> Callable[[Any], Any] | None:
    if isinstance(kind, t.UTCDateTime):
        return _utc
    if isinstance(kind, sa.Boolean):
        return bool
    if isinstance(kind, sa.JSON):
        return json_loads
    if isinstance(kind, sa.Integer | sa.String):
        return None
    raise TypeError(f"no direct SQLite reading for {kind!r}")  # pragma: no cover


class _ByKey:
    """A primary-key read of one table: its SQLAlchemy form, and the SQLite
    ``SELECT <every column> FROM table WHERE key = ?`` with its row conversion."""

    def __init__(self, table: sa.Table, key: sa.Column[Any]) -> None:
        self.table = table
        self.key = key
        stmt = sa.select(table).where(key == sa.bindparam("key"))
        self.sql = str(stmt.compile(dialect=sqlite.dialect()))
        self.rows = _SqliteRows(table)


_APPS = _ByKey(t.apps, t.apps.c.client_id)
_USERS = _ByKey(t.users, t.users.c.username)
_MEETINGS = _ByKey(t.meetings, t.meetings.c.id)
_USED_TOKEN_SQL = "SELECT jti FROM used_tokens WHERE jti = ?"
_EVENT_ROWS = _SqliteRows(t.events)
_EVENTS_SINCE_SQL = str(
    sa.select(t.events)
    .where(t.events.c.meeting_id == sa.bindparam("m"), t.events.c.seq > sa.bindparam("s"))
    .order_by(t.events.c.seq)
    .compile(dialect=sqlite.dialect())
)


# --- rows <-> values -------------------------------------------------------------------------
def _app_row(app: App) -> dict[str, Any]:
    return {
        "client_id": app.client_id,
        "name": app.name,
        "secret_hash": app.secret_hash,
        "created_at": app.created_at,
        "revoked_at": app.revoked_at,
        "previous_secret_hash": app.previous_secret_hash,
        "previous_secret_until": app.previous_secret_until,
    }


def _app(m: Mapping[Any, Any]) -> App:
    return App(**m)


def _user_row(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "password_hash": user.password_hash,
        "created_at": user.created_at,
        "disabled": user.disabled,
        "role": user.role.value,
    }


def _user(m: Mapping[Any, Any]) -> User:
    return User(**m)  # role: its name; User turns it into a UserRole (or refuses it)


def _meeting_row(meeting: Meeting) -> dict[str, Any]:
    return {
        "id": meeting.id,
        "join_code": meeting.join_code,
        "subject": meeting.subject,
        "organizer": meeting.organizer,
        "created_at": meeting.created_at,
        "access_policy": AccessPolicy(meeting.access_policy).value,
        "lobby_bypass": LobbyBypass(meeting.lobby_bypass).value,
        "starts_at": meeting.start,
        "ends_at": meeting.end,
        "state": MeetingState(meeting.state).value,
        "created_by_app": meeting.created_by_app,
        "ended_at": meeting.ended_at,
        "revision": meeting.revision,
    }


def _meeting(m: Mapping[Any, Any]) -> Meeting:
    return Meeting(
        id=m["id"],
        join_code=m["join_code"],
        subject=m["subject"],
        organizer=m["organizer"],
        created_at=m["created_at"],
        access_policy=AccessPolicy(m["access_policy"]),
        lobby_bypass=LobbyBypass(m["lobby_bypass"]),
        start=m["starts_at"],
        end=m["ends_at"],
        state=MeetingState(m["state"]),
        created_by_app=m["created_by_app"],
        ended_at=m["ended_at"],
        revision=m["revision"],
    )


def _webhook(m: RowMapping) -> WebhookRecord:
    return WebhookRecord(
        id=m["id"],
        app_id=m["app_id"],
        url=m["url"],
        secret=m["secret"],
        events=tuple(m["events"]),
        created_at=m["created_at"],
        extra=dict(m["extra"] or {}),
    )


def _delivery_row(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "webhook_id": d.webhook_id,
        "app_id": d.app_id,
        "event": d.event,
        "payload": d.payload,
        "meeting_id": d.meeting_id,
        "created_at": d.created_at,
        "attempts": 0,
        "state": DeliveryState.PENDING.value,
    }


def _delivery(m: RowMapping) -> WebhookDelivery:
    return WebhookDelivery(
        id=m["id"],
        webhook_id=m["webhook_id"],
        app_id=m["app_id"],
        event=m["event"],
        payload=dict(m["payload"] or {}),
        meeting_id=m["meeting_id"],
        created_at=m["created_at"],
        attempts=m["attempts"],
        state=DeliveryState(m["state"]),
        next_attempt_at=m["next_attempt_at"],
        claimed_by=m["claimed_by"],
        claimed_until=m["claimed_until"],
        last_error=m["last_error"],
        delivered_at=m["delivered_at"],
    )
