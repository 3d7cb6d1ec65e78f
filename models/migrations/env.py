"""Alembic environment: the same migrations for SQLite and PostgreSQL."""

from alembic import context
from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

import models  # noqa: F401  (registers every table on the metadata)
from models.dialect import is_postgresql

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:  # models.db.alembic_config sets it
        raise RuntimeError("no sqlalchemy.url in the Alembic config: run `homecoming db upgrade`")
    connectable = create_engine(url, poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=not is_postgresql(connection),  # SQLite rebuilds tables to alter
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
