"""Alembic environment of Frontdesk (asyncio, after Alembic's asyncio cookbook).

Called two ways:

* from :mod:`frontdesk.store.migrate`, with an open, locked connection in
  ``config.attributes["connection"]`` (the normal path: ``SqlStore.open``);
* by the ``alembic`` command line with ``sqlalchemy.url`` set, in which case we
  make our own engine, take the same migration lock, and run in one transaction.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import context

from frontdesk.store.engine import WRITE_OPTIONS, make_engine
from frontdesk.store.migrate import lock_for_migration
from frontdesk.store.tables import metadata

config = context.config


def do_run_migrations(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        user_module_prefix="tables.",
    )
    with context.begin_transaction():
        context.run_migrations()


def _locked_run(connection: sa.Connection) -> None:
    lock_for_migration(connection)
    do_run_migrations(connection)


async def run_async_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "set sqlalchemy.url (or FRONTDESK_DATABASE_URL via frontdesk.store.migrate)"
        )
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(**WRITE_OPTIONS)
            async with conn.begin():
                await conn.run_sync(_locked_run)
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(run_async_migrations())
    else:
        do_run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
