"""Every Redis key the waiting room uses, built in one place.

All of an event's keys carry the hash tag `{ev:<id>}`, so in Redis Cluster
they live in one slot and each Lua script may touch several of them.

    {prefix}:{ev:42}:queue:config     hash  RoomConfig.to_fields(); plus draw_seed (secret until
                                            the start), draw_commitment, draw_committed_at
    {prefix}:{ev:42}:queue:state      hash  joined (join counter), serving (serving position),
                                            started_at, prequeue_size, seed (shuffle only),
                                            credit, credit_at, rate, rate_mark_at,
                                            rate_mark_serving, admitted_total, skipped_total
    {prefix}:{ev:42}:queue:members    hash  account id -> join sequence number (one place each)
    {prefix}:{ev:42}:queue:seen       hash  seq -> last poll time, for fans still waiting
    {prefix}:{ev:42}:queue:sessions   zset  seq -> session expiry, for admitted fans
    {prefix}:{ev:42}:queue:joined_at  hash  seq -> join time (for receipts and the draw report)
    {prefix}:{ev:42}:queue:joined_by  hash  seq -> account (admitted order vs booking order)
    {prefix}:{ev:42}:queue:code_guesses:<minute>  hash  "a:<account>" / "i:<ip>" -> presale
                                            code attempts
    {prefix}:{ev:42}:queue:controller string  owner id of the admission controller lease
    {prefix}:{ev:42}:queue:joins:<minute>  hash  "a:<account>" / "i:<ip>" -> join attempts
    {prefix}:queue:events             set   event ids with a waiting room (not per event)
"""

from __future__ import annotations

from dataclasses import dataclass

JOIN_WINDOW_SECONDS = 60


def check_prefix(prefix: str) -> str:
    """A prefix with braces would move the hash tag and split an event across slots."""
    if not prefix or "{" in prefix or "}" in prefix:
        raise ValueError(f"invalid Redis key prefix {prefix!r}")
    return prefix


@dataclass(frozen=True, slots=True)
class RoomKeys:
    prefix: str
    event_id: int

    @property
    def _base(self) -> str:
        return f"{self.prefix}:{{ev:{self.event_id}}}:queue"

    @property
    def config(self) -> str:
        return f"{self._base}:config"

    @property
    def state(self) -> str:
        return f"{self._base}:state"

    @property
    def members(self) -> str:
        return f"{self._base}:members"

    @property
    def seen(self) -> str:
        return f"{self._base}:seen"

    @property
    def sessions(self) -> str:
        return f"{self._base}:sessions"

    @property
    def joined_at(self) -> str:
        return f"{self._base}:joined_at"

    @property
    def joined_by(self) -> str:
        return f"{self._base}:joined_by"

    @property
    def controller_lease(self) -> str:
        return f"{self._base}:controller"

    def join_attempts(self, now: float) -> str:
        """The per-minute join-attempt counters for the window that holds `now`."""
        return f"{self._base}:joins:{int(now // JOIN_WINDOW_SECONDS)}"

    def code_guesses(self, now: float) -> str:
        """The per-minute presale code attempt counters for the window that holds `now`."""
        return f"{self._base}:code_guesses:{int(now // JOIN_WINDOW_SECONDS)}"

    def all_fixed(self) -> tuple[str, ...]:
        return (
            self.config,
            self.state,
            self.members,
            self.seen,
            self.sessions,
            self.controller_lease,
            self.joined_at,
            self.joined_by,
        )


def events_registry(prefix: str) -> str:
    return f"{prefix}:queue:events"
