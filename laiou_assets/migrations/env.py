"""Alembic's environment for laiou: migrations are rendered as SQL (offline mode) and laiou runs that SQL on
its own connection, inside one transaction under an advisory lock (laiou_assets/migrations/__init__.py).
The version table is audit.alembic_version."""

from alembic import context

context.configure(
    url="postgresql://",
    literal_binds=True,
    dialect_opts={"paramstyle": "named"},  # so that a % (PL/pgSQL format()) is not doubled
    version_table="alembic_version",
    version_table_schema="audit",
    transactional_ddl=False,  # laiou's own transaction wraps the whole upgrade
    output_buffer=context.config.attributes["buffer"],
)
with context.begin_transaction():
    context.run_migrations()
