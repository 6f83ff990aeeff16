"""What the home page shows: events on sale now, on sale soon, and the catalog by category
and by city. Read from `event_listings`, the browse read model (published events only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from engine.store.listings import LISTING_COLUMNS

HOME_ROW_SIZE = 8
HOME_FACETS = 12

_PUBLISHED = "status = 'published' AND starts_at > :now"
_ON_SALE_NOW = text(f"""
    SELECT {LISTING_COLUMNS} FROM event_listings
    WHERE {_PUBLISHED} AND onsale_at <= :now AND NOT sold_out
    ORDER BY starts_at, event_id LIMIT :limit""")
_ON_SALE_SOON = text(f"""
    SELECT {LISTING_COLUMNS} FROM event_listings
    WHERE {_PUBLISHED} AND onsale_at > :now
    ORDER BY onsale_at, event_id LIMIT :limit""")
_CATEGORIES = text(f"""
    SELECT category AS name, count(*) AS events FROM event_listings WHERE {_PUBLISHED}
    GROUP BY category ORDER BY count(*) DESC, category LIMIT :limit""")
_CITIES = text(f"""
    SELECT min(city) AS name, count(*) AS events FROM event_listings WHERE {_PUBLISHED}
    GROUP BY lower(city) ORDER BY count(*) DESC, min(city) LIMIT :limit""")


@dataclass(frozen=True)
class HomeRows:
    on_sale_now: list[dict[str, Any]]
    on_sale_soon: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    cities: list[dict[str, Any]]


def home_rows(conn: Connection, now: datetime, limit: int = HOME_ROW_SIZE) -> HomeRows:
    params = {"now": now, "limit": limit}
    facets = {"now": now, "limit": HOME_FACETS}

    def rows(query: Any, values: dict[str, Any]) -> list[dict[str, Any]]:
        return [dict(row._mapping) for row in conn.execute(query, values)]

    return HomeRows(rows(_ON_SALE_NOW, params), rows(_ON_SALE_SOON, params),
                    rows(_CATEGORIES, facets), rows(_CITIES, facets))
