"""The Postgres connection budget: how many connections each process may pool.

Postgres serves at most `max_connections` at once, and every process of a
deployment pools its own. Many API processes with the default pool (5 + 10
overflow each) overrun it; the budget divides what the server allows, less a
reserve (superuser and maintenance sessions, migrations, an operator's psql),
between the processes, worker processes first (each holds one connection per
partition it serves plus two for loads; a worker serves every partition after
its peers die, so it is budgeted for all of them), the API processes sharing
the rest. With PgBouncer in transaction mode in front, `max_connections` is
PgBouncer's `max_client_conn` instead, and Postgres sees only PgBouncer's pool.
See docs/scaling.md.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_API_CONNECTIONS = 2
"""Below this an API process queues browse and booking reads behind each other."""
API_POOL_SHARE = 0.4
"""Of an API process's budget, the part kept open; the rest is overflow, opened on demand."""


class BudgetTooSmall(ValueError):
    """The server allows fewer connections than the processes need."""


@dataclass(frozen=True, slots=True)
class PoolSize:
    pool_size: int
    max_overflow: int

    @property
    def connections(self) -> int:
        return self.pool_size + self.max_overflow


def worker_connections(partitions: int) -> int:
    """What one partition worker process pools (api.launcher.roots.run_worker)."""
    return partitions + 2


def api_pool(*, max_connections: int, reserved: int, api_processes: int,
             worker_processes: int, partitions: int, other_processes: int = 3) -> PoolSize:
    """Each API process's pool so that every process at its peak fits the server.

    `other_processes`: the payments worker, the notifier and the controller, two
    connections each.
    """
    available = (max_connections - reserved - worker_processes * worker_connections(partitions)
                 - 2 * other_processes)
    per_api = available // max(1, api_processes)
    if per_api < MIN_API_CONNECTIONS:
        raise BudgetTooSmall(
            f"{max_connections} connections less {reserved} reserved leave {max(available, 0)} "
            f"for {api_processes} API processes (at least {MIN_API_CONNECTIONS} each)")
    pool_size = max(1, round(per_api * API_POOL_SHARE))
    return PoolSize(pool_size, per_api - pool_size)
