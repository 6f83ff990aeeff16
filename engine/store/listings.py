"""Read the catalog for fans: browse with filters and keyset pages, and ranked full-text search.

Both read `event_listings`, the read model the 0002 triggers keep current, so
a page is one indexed query. Browse pages by keyset (the sort key and the
event id of the last row), never by offset, so page 500 costs what page 1 does.
Search ranks with `ts_rank` over a weighted document (name and performers
weigh more than venue and city) and matches every word as a prefix, so results
follow a fan's typing. The query is cut into words by Postgres' own text parser,
the one that built the document: `AC/DC`, `2.0` and `-182` are single lexemes to
it, so a query split any other way would miss them (migration 0005 also indexes
each field with its punctuation turned into spaces, for fans who type `ac dc`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

SEARCH_CONFIG = "onsale_search"
MAX_SEARCH_TERMS = 8
SEARCH_CANDIDATES = 100
SORTS = {
    # name: (column, descending)
    "starts_at": ("starts_at", False),
    "-starts_at": ("starts_at", True),
    "price": ("min_price_cents", False),
    "-price": ("min_price_cents", True),
}
_WORD = re.compile(r"[^\W_]+")
_LEXEME = re.compile(r"[^\s'\\:%\x00-\x1f]+")
"""What a lexeme may hold to be written into the SQL text: no quote, backslash, space or
control character, and no `:` or `%` (bind-parameter syntax to SQLAlchemy and psycopg).
The parser makes such lexemes only out of URLs and odd input; they are left out of the
query, which then matches more, never less."""

LISTING_COLUMNS = (
    "event_id, name, category, status, starts_at, onsale_at, currency, venue_id, venue_name,"
    " city, country, performer_ids, performer_names, min_price_cents, max_price_cents,"
    " capacity, capacity - seats_claimed - ga_taken AS tickets_left"
)


@dataclass(frozen=True, slots=True)
class BrowseFilter:
    """What a fan narrows the catalog by; None means "any"."""

    starts_after: datetime
    starts_before: datetime | None = None
    category: str | None = None
    city: str | None = None
    performer_ids: tuple[int, ...] | None = None
    min_price_cents: int | None = None
    max_price_cents: int | None = None
    available: bool | None = None
    statuses: tuple[str, ...] = ("published",)


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[dict[str, Any]]
    next_key: tuple[Any, int] | None
    """(sort key, event id) of the last row when there may be more, else None."""


def _where(flt: BrowseFilter, params: dict[str, Any]) -> list[str]:
    if len(flt.statuses) == 1:  # equality keeps the (status, starts_at) index order usable
        clauses = ["status = :status"]
        params["status"] = flt.statuses[0]
    else:
        clauses = ["status = ANY(:statuses)"]
        params["statuses"] = list(flt.statuses)
    clauses.append("starts_at >= :starts_after")
    params["starts_after"] = flt.starts_after
    if flt.starts_before is not None:
        clauses.append("starts_at < :starts_before")
        params["starts_before"] = flt.starts_before
    if flt.category is not None:
        clauses.append("category = :category")
        params["category"] = flt.category
    if flt.city is not None:
        clauses.append("city_key = :city_key")
        params["city_key"] = flt.city.lower()
    if flt.performer_ids is not None:
        clauses.append("performer_ids && CAST(:performer_ids AS bigint[])")
        params["performer_ids"] = list(flt.performer_ids)
    if flt.min_price_cents is not None:
        clauses.append("max_price_cents >= :min_price_cents")
        params["min_price_cents"] = flt.min_price_cents
    if flt.max_price_cents is not None:
        clauses.append("min_price_cents <= :max_price_cents")
        params["max_price_cents"] = flt.max_price_cents
    if flt.available is True:
        clauses.append("capacity - seats_claimed - ga_taken > 0")
    elif flt.available is False:
        clauses.append("capacity - seats_claimed - ga_taken <= 0")
    return clauses


def browse(conn: Connection, flt: BrowseFilter, *, sort: str = "starts_at", limit: int = 20,
           after: tuple[Any, int] | None = None) -> Page:
    """One page of listings in `sort` order, starting after the keyset `after`."""
    column, descending = SORTS[sort]
    params: dict[str, Any] = {"limit": limit + 1}
    clauses = _where(flt, params)
    if column != "starts_at":
        clauses.append(f"{column} IS NOT NULL")
    if after is not None:
        clauses.append(f"({column}, event_id) {'<' if descending else '>'} (:after_key, :after_id)")
        params["after_key"], params["after_id"] = after
    direction = "DESC" if descending else "ASC"
    rows = [dict(row._mapping) for row in conn.execute(text(
        f"SELECT {LISTING_COLUMNS} FROM event_listings WHERE {' AND '.join(clauses)}"
        f" ORDER BY {column} {direction}, event_id {direction} LIMIT :limit"), params)]
    next_key = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        sort_value = last["starts_at" if column == "starts_at" else "min_price_cents"]
        next_key = (sort_value, last["event_id"])
    return Page(rows, next_key)


def search_terms(query: str) -> list[str]:
    """The words of a fan's query, lowercased, as the search configuration would split them."""
    return [word.lower() for word in _WORD.findall(query)][:MAX_SEARCH_TERMS]


def prefix_tsquery(lexemes: list[str]) -> str:
    """Every lexeme as a quoted prefix (`'ac/dc':*`), all required.

    Lexemes are checked against `_LEXEME` here because the query is written into
    the SQL text as a literal: the planner then sees the real query and picks the
    GIN index for rare words and the date order for common ones.
    """
    for lexeme in lexemes:
        if not _LEXEME.fullmatch(lexeme):
            raise ValueError(f"not a search term: {lexeme!r}")
    return " & ".join(f"'{lexeme}':*" for lexeme in lexemes)


def query_lexemes(conn: Connection, query: str) -> list[str]:
    """The query's words as the document's parser cuts them, in order, at most
    MAX_SEARCH_TERMS of them; lexemes that cannot be written into SQL are dropped."""
    lexemes = conn.execute(text(
        f"SELECT lexeme FROM unnest(to_tsvector('{SEARCH_CONFIG}', :query))"
        " ORDER BY positions[1]"), {"query": query}).scalars()
    return [lexeme for lexeme in lexemes if _LEXEME.fullmatch(lexeme)][:MAX_SEARCH_TERMS]


def search(conn: Connection, query: str, flt: BrowseFilter, *, limit: int = 20,
           offset: int = 0) -> list[dict[str, Any]]:
    """Listings matching every word of `query` (as a prefix), best ranked first.

    Ranking covers the SEARCH_CANDIDATES soonest matches: a two-letter prefix
    can match half the catalog, and ranking 50,000 rows to show 20 would cost
    more than the whole time budget of a keystroke. Within them, a match in
    the name or a performer outranks one in the venue or city.
    """
    lexemes = query_lexemes(conn, query)
    if not lexemes:
        return []
    params: dict[str, Any] = {"limit": limit, "offset": offset,
                              "candidates": SEARCH_CANDIDATES}
    clauses = _where(flt, params)
    literal = prefix_tsquery(lexemes).replace("'", "''")
    tsquery = f"CAST('{literal}' AS tsquery)"
    clauses.append(f"search @@ {tsquery}")
    return [dict(row._mapping) for row in conn.execute(text(
        f"WITH candidates AS MATERIALIZED ("
        f" SELECT {LISTING_COLUMNS}, search FROM event_listings"
        f" WHERE {' AND '.join(clauses)}"
        f" ORDER BY starts_at, event_id LIMIT :candidates)"
        f" SELECT *, ts_rank(search, {tsquery}) AS rank FROM candidates"
        " ORDER BY rank DESC, starts_at, event_id LIMIT :limit OFFSET :offset"), params)]


def listing(conn: Connection, event_id: int) -> dict[str, Any] | None:
    row = conn.execute(text(f"SELECT {LISTING_COLUMNS}, organizer_id FROM event_listings"
                            " WHERE event_id = :event_id"), {"event_id": event_id}).first()
    return dict(row._mapping) if row else None


def performer_ids_named(conn: Connection, name: str) -> tuple[int, ...]:
    """Performers whose name is `name`, ignoring case (a filter by name becomes one by id)."""
    return tuple(conn.execute(text(
        "SELECT id FROM performers WHERE lower(name) = lower(:name)"),
        {"name": name}).scalars())
