"""The Dagster instance's storage: dagster-postgres's, keeping one connection open per part.

dagster-postgres opens a new connection for every read and write of its runs, event log and schedules
(SQLAlchemy's NullPool) unless the process is the webserver. Each connection to the warehouse's server
costs a SCRAM password exchange; a small `laiou run` opened about 3,000 of them, 14 s of its 54 s. This
class is dagster-postgres's own storage with the pool dagster-postgres gives the webserver
(`optimize_for_webserver`), named in dagster.yaml (`storage: custom:`) so that every process of the
instance uses it: `laiou run`, the daemon, the code server's runs.
"""

from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

# No statement timeout (a report's query may be long); a pooled connection is replaced after an hour.
STATEMENT_TIMEOUT_MS = 0
POOL_RECYCLE_S = 3600
MAX_OVERFLOW = 10  # beyond the one kept, connections opened for concurrent threads and closed after use


class PooledPostgresStorage(DagsterPostgresStorage):
    """DagsterPostgresStorage whose run, event log and schedule storages each keep one connection."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True, inst_data=None, token_provider=None):
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        for part in (self.run_storage, self.event_log_storage, self.schedule_storage):
            part.optimize_for_webserver(STATEMENT_TIMEOUT_MS, POOL_RECYCLE_S, MAX_OVERFLOW)

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(
            pg_url_from_config(config_value),
            config_value.get("should_autocreate_tables", True),
            inst_data,
            get_token_provider_from_config(config_value),
        )
