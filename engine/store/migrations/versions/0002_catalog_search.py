"""Catalog read model: one `event_listings` row per event for browse and full-text search.

Revision ID: 0002_catalog_search
Revises: 0001
Create Date: 2024-12-02

Browse filters on a venue's city, an event's performers, its price range and
whether tickets are left; search ranks name, performers, venue and city. Those
live in five tables, so a listing row gathers them (with a weighted tsvector)
and triggers keep it current whoever writes: the API, the demo loader's COPY,
or the partition consumer selling seats. The triggers are statement-level with
transition tables where bulk writes happen (COPY of 100,000 events, a batch of
seat claims), so a statement costs one set-based update, not one per row.

Availability is kept as counters (`seats_claimed`, `ga_taken`) moved by the
seat-claim and GA-counter triggers; `capacity - seats_claimed - ga_taken` is
what is left to sell. The text search configuration `onsale_search` is
`simple` (no stemming: names, not prose), so prefix queries (`aur:*`) work.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_catalog_search"
down_revision = "0001"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger()
TIMESTAMPTZ = sa.DateTime(timezone=True)

_REFRESH = """
CREATE FUNCTION onsale_listing_refresh(event_ids bigint[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO event_listings AS l (
        event_id, organizer_id, venue_id, status, category, name, starts_at, onsale_at,
        currency, venue_name, city, city_key, country, performer_ids, performer_names,
        min_price_cents, max_price_cents, capacity, seats_claimed, ga_taken, sold_out, search,
        updated_at)
    SELECT e.id, e.organizer_id, e.venue_id, e.status, e.category, e.name, e.starts_at,
           e.onsale_at, e.currency, v.name, v.city, lower(v.city), v.country,
           coalesce(p.ids, '{}'), coalesce(p.names, '{}'), t.low, t.high, v.capacity,
           coalesce(c.claimed, 0), coalesce(g.taken, 0),
           v.capacity - coalesce(c.claimed, 0) - coalesce(g.taken, 0) <= 0,
           onsale_listing_document(e.name, coalesce(p.names, '{}'), v.name, v.city),
           now()
    FROM events e
    JOIN venues v ON v.id = e.venue_id
    LEFT JOIN LATERAL (
        SELECT array_agg(pf.id ORDER BY ep.billing_order, pf.id) AS ids,
               array_agg(pf.name ORDER BY ep.billing_order, pf.id) AS names
        FROM event_performers ep JOIN performers pf ON pf.id = ep.performer_id
        WHERE ep.event_id = e.id) p ON true
    LEFT JOIN LATERAL (
        SELECT min(price_cents) AS low, max(price_cents) AS high
        FROM price_tiers WHERE event_id = e.id) t ON true
    LEFT JOIN LATERAL (
        SELECT count(*) AS claimed FROM seat_claims WHERE event_id = e.id) c ON true
    LEFT JOIN LATERAL (
        SELECT sum(held + sold) AS taken FROM ga_inventory WHERE event_id = e.id) g ON true
    WHERE e.id = ANY(event_ids)
    ON CONFLICT (event_id) DO UPDATE SET
        organizer_id = EXCLUDED.organizer_id, venue_id = EXCLUDED.venue_id,
        status = EXCLUDED.status, category = EXCLUDED.category, name = EXCLUDED.name,
        starts_at = EXCLUDED.starts_at, onsale_at = EXCLUDED.onsale_at,
        currency = EXCLUDED.currency, venue_name = EXCLUDED.venue_name,
        city = EXCLUDED.city, city_key = EXCLUDED.city_key, country = EXCLUDED.country,
        performer_ids = EXCLUDED.performer_ids, performer_names = EXCLUDED.performer_names,
        min_price_cents = EXCLUDED.min_price_cents, max_price_cents = EXCLUDED.max_price_cents,
        capacity = EXCLUDED.capacity, seats_claimed = EXCLUDED.seats_claimed,
        ga_taken = EXCLUDED.ga_taken, sold_out = EXCLUDED.sold_out, search = EXCLUDED.search,
        updated_at = now();
$$
"""

_PERFORMERS = """
CREATE FUNCTION onsale_listing_performers(event_ids bigint[]) RETURNS void
LANGUAGE sql AS $$
    UPDATE event_listings l
    SET performer_ids = p.ids, performer_names = p.names,
        search = onsale_listing_document(l.name, p.names, l.venue_name, l.city),
        updated_at = now()
    FROM (SELECT x.event_id,
                 coalesce(array_agg(pf.id ORDER BY ep.billing_order, pf.id)
                          FILTER (WHERE pf.id IS NOT NULL), '{}') AS ids,
                 coalesce(array_agg(pf.name ORDER BY ep.billing_order, pf.id)
                          FILTER (WHERE pf.id IS NOT NULL), '{}') AS names
          FROM unnest(event_ids) AS x(event_id)
          LEFT JOIN event_performers ep ON ep.event_id = x.event_id
          LEFT JOIN performers pf ON pf.id = ep.performer_id
          GROUP BY x.event_id) p
    WHERE l.event_id = p.event_id;
$$
"""

_DOCUMENT = """
CREATE FUNCTION onsale_listing_document(event_name text, performer_names text[],
                                        venue_name text, city text) RETURNS tsvector
LANGUAGE sql IMMUTABLE AS $$
    SELECT setweight(to_tsvector('onsale_search', event_name), 'A')
        || setweight(to_tsvector('onsale_search', array_to_string(performer_names, ' ')), 'A')
        || setweight(to_tsvector('onsale_search', venue_name), 'B')
        || setweight(to_tsvector('onsale_search', city), 'B');
$$
"""

# Each trigger function: (name, body). Bodies see transition tables `changed`/`gone`.
_TRIGGER_FUNCTIONS = {
    "onsale_listing_events_inserted": """
        PERFORM onsale_listing_refresh(ARRAY(SELECT id FROM changed));
        RETURN NULL;""",
    "onsale_listing_event_changed": """
        PERFORM onsale_listing_refresh(ARRAY[NEW.id]);
        RETURN NULL;""",
    "onsale_listing_performers_changed": """
        PERFORM onsale_listing_performers(ARRAY(SELECT DISTINCT event_id FROM changed));
        RETURN NULL;""",
    "onsale_listing_performers_removed": """
        PERFORM onsale_listing_performers(ARRAY(SELECT DISTINCT event_id FROM gone));
        RETURN NULL;""",
    "onsale_listing_prices_changed": """
        UPDATE event_listings l SET min_price_cents = t.low, max_price_cents = t.high,
                                    updated_at = now()
        FROM (SELECT x.event_id, min(p.price_cents) AS low, max(p.price_cents) AS high
              FROM (SELECT DISTINCT event_id FROM changed) x
              LEFT JOIN price_tiers p ON p.event_id = x.event_id
              GROUP BY x.event_id) t
        WHERE l.event_id = t.event_id;
        RETURN NULL;""",
    "onsale_listing_prices_removed": """
        UPDATE event_listings l SET min_price_cents = t.low, max_price_cents = t.high,
                                    updated_at = now()
        FROM (SELECT x.event_id, min(p.price_cents) AS low, max(p.price_cents) AS high
              FROM (SELECT DISTINCT event_id FROM gone) x
              LEFT JOIN price_tiers p ON p.event_id = x.event_id
              GROUP BY x.event_id) t
        WHERE l.event_id = t.event_id;
        RETURN NULL;""",
    "onsale_listing_claims_added": """
        UPDATE event_listings l SET seats_claimed = l.seats_claimed + c.n,
            sold_out = l.capacity - l.seats_claimed - c.n - l.ga_taken <= 0
        FROM (SELECT event_id, count(*) AS n FROM changed GROUP BY event_id) c
        WHERE l.event_id = c.event_id;
        RETURN NULL;""",
    "onsale_listing_claims_removed": """
        UPDATE event_listings l SET seats_claimed = l.seats_claimed - c.n,
            sold_out = l.capacity - l.seats_claimed + c.n - l.ga_taken <= 0
        FROM (SELECT event_id, count(*) AS n FROM gone GROUP BY event_id) c
        WHERE l.event_id = c.event_id;
        RETURN NULL;""",
    "onsale_listing_ga_changed": """
        UPDATE event_listings l SET ga_taken = l.ga_taken + d.delta,
            sold_out = l.capacity - l.seats_claimed - l.ga_taken - d.delta <= 0
        FROM (SELECT event_id, sum(n) AS delta FROM (
                  SELECT event_id, held + sold AS n FROM changed
                  UNION ALL
                  SELECT event_id, -(held + sold) FROM gone) both_sides
              GROUP BY event_id HAVING sum(n) <> 0) d
        WHERE l.event_id = d.event_id;
        RETURN NULL;""",
    "onsale_listing_venue_changed": """
        PERFORM onsale_listing_refresh(ARRAY(SELECT id FROM events WHERE venue_id = NEW.id));
        RETURN NULL;""",
    "onsale_listing_performer_renamed": """
        PERFORM onsale_listing_refresh(ARRAY(
            SELECT event_id FROM event_performers WHERE performer_id = NEW.id));
        RETURN NULL;""",
}

_TRIGGERS = (
    # (trigger name, table, "<timing> [REFERENCING ...] FOR EACH <level> [WHEN ...]", function)
    ("listing_events_inserted", "events",
     "AFTER INSERT REFERENCING NEW TABLE AS changed FOR EACH STATEMENT",
     "onsale_listing_events_inserted"),
    # Row-level with WHEN: the consumer's `inventory_version` bumps must not refresh.
    ("listing_event_changed", "events",
     "AFTER UPDATE FOR EACH ROW WHEN ("
     "OLD.name IS DISTINCT FROM NEW.name OR OLD.status IS DISTINCT FROM NEW.status"
     " OR OLD.category IS DISTINCT FROM NEW.category"
     " OR OLD.starts_at IS DISTINCT FROM NEW.starts_at"
     " OR OLD.onsale_at IS DISTINCT FROM NEW.onsale_at"
     " OR OLD.venue_id IS DISTINCT FROM NEW.venue_id"
     " OR OLD.organizer_id IS DISTINCT FROM NEW.organizer_id"
     " OR OLD.currency IS DISTINCT FROM NEW.currency)",
     "onsale_listing_event_changed"),
    ("listing_performers_inserted", "event_performers",
     "AFTER INSERT REFERENCING NEW TABLE AS changed FOR EACH STATEMENT",
     "onsale_listing_performers_changed"),
    ("listing_performers_deleted", "event_performers",
     "AFTER DELETE REFERENCING OLD TABLE AS gone FOR EACH STATEMENT",
     "onsale_listing_performers_removed"),
    ("listing_prices_inserted", "price_tiers",
     "AFTER INSERT REFERENCING NEW TABLE AS changed FOR EACH STATEMENT",
     "onsale_listing_prices_changed"),
    ("listing_prices_updated", "price_tiers",
     "AFTER UPDATE REFERENCING NEW TABLE AS changed FOR EACH STATEMENT",
     "onsale_listing_prices_changed"),
    ("listing_prices_deleted", "price_tiers",
     "AFTER DELETE REFERENCING OLD TABLE AS gone FOR EACH STATEMENT",
     "onsale_listing_prices_removed"),
    ("listing_claims_inserted", "seat_claims",
     "AFTER INSERT REFERENCING NEW TABLE AS changed FOR EACH STATEMENT",
     "onsale_listing_claims_added"),
    ("listing_claims_deleted", "seat_claims",
     "AFTER DELETE REFERENCING OLD TABLE AS gone FOR EACH STATEMENT",
     "onsale_listing_claims_removed"),
    ("listing_ga_updated", "ga_inventory",
     "AFTER UPDATE REFERENCING OLD TABLE AS gone NEW TABLE AS changed FOR EACH STATEMENT",
     "onsale_listing_ga_changed"),
    ("listing_venue_changed", "venues",
     "AFTER UPDATE FOR EACH ROW WHEN ("
     "OLD.name IS DISTINCT FROM NEW.name OR OLD.city IS DISTINCT FROM NEW.city"
     " OR OLD.country IS DISTINCT FROM NEW.country OR OLD.capacity IS DISTINCT FROM NEW.capacity)",
     "onsale_listing_venue_changed"),
    ("listing_performer_renamed", "performers",
     "AFTER UPDATE FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)",
     "onsale_listing_performer_renamed"),
)


def upgrade() -> None:
    op.execute("CREATE TEXT SEARCH CONFIGURATION onsale_search (COPY = simple)")
    op.create_table(
        "event_listings",
        sa.Column("event_id", BIGINT, nullable=False),
        sa.Column("organizer_id", BIGINT, nullable=False),
        sa.Column("venue_id", BIGINT, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("starts_at", TIMESTAMPTZ, nullable=False),
        sa.Column("onsale_at", TIMESTAMPTZ, nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("venue_name", sa.Text(), nullable=False),
        sa.Column("city", sa.Text(), nullable=False),
        sa.Column("city_key", sa.Text(), nullable=False),
        sa.Column("country", sa.Text(), nullable=False),
        sa.Column("performer_ids", postgresql.ARRAY(BIGINT), server_default="{}",
                  nullable=False),
        sa.Column("performer_names", postgresql.ARRAY(sa.Text()), server_default="{}",
                  nullable=False),
        sa.Column("min_price_cents", sa.Integer(), nullable=True),
        sa.Column("max_price_cents", sa.Integer(), nullable=True),
        sa.Column("capacity", sa.Integer(), server_default="0", nullable=False),
        sa.Column("seats_claimed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("ga_taken", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sold_out", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("search", postgresql.TSVECTOR(), nullable=False),
        sa.Column("updated_at", TIMESTAMPTZ, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_event_listings"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE",
                                name="fk_event_listings_event_id_events"),
    )
    op.create_index("ix_event_listings_status_starts_at_event_id", "event_listings",
                    ["status", "starts_at", "event_id"])
    op.create_index("ix_event_listings_status_category_starts_at_event_id", "event_listings",
                    ["status", "category", "starts_at", "event_id"])
    op.create_index("ix_event_listings_status_city_key_starts_at_event_id", "event_listings",
                    ["status", "city_key", "starts_at", "event_id"])
    op.create_index("ix_event_listings_status_sold_out_starts_at_event_id", "event_listings",
                    ["status", "sold_out", "starts_at", "event_id"])
    op.create_index("ix_event_listings_status_min_price_cents_event_id", "event_listings",
                    ["status", "min_price_cents", "event_id"])
    op.create_index("ix_event_listings_organizer_id", "event_listings", ["organizer_id"])
    op.create_index("ix_event_listings_performer_ids", "event_listings", ["performer_ids"],
                    postgresql_using="gin")
    op.create_index("ix_event_listings_search", "event_listings", ["search"],
                    postgresql_using="gin")
    # Counter updates by the partition consumer touch no indexed column: room for HOT updates.
    op.execute("ALTER TABLE event_listings SET (fillfactor = 85)")
    # More lexemes in the statistics: the planner then tells a rare prefix (GIN bitmap) from
    # a common one (walk the date index until enough matches).
    op.execute("ALTER TABLE event_listings ALTER COLUMN search SET STATISTICS 1000")
    # Cities and categories are correlated (no sports at a theatre): tell the planner.
    op.execute("CREATE STATISTICS event_listings_city_category (mcv, dependencies)"
               " ON category, city_key FROM event_listings")
    op.execute(_DOCUMENT)
    op.execute(_REFRESH)
    op.execute(_PERFORMERS)
    for name, body in _TRIGGER_FUNCTIONS.items():
        op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                   f"BEGIN{body}\nEND;\n$$")
    for trigger, table, when, function in _TRIGGERS:
        event, _, rest = when.partition(" FOR EACH ")
        timing, _, referencing = event.partition(" REFERENCING ")
        referencing = f" REFERENCING {referencing}" if referencing else ""
        op.execute(f"CREATE TRIGGER {trigger} {timing} ON {table}{referencing}"
                   f" FOR EACH {rest} EXECUTE FUNCTION {function}()")
    op.execute("SELECT onsale_listing_refresh(ARRAY(SELECT id FROM events))")


def downgrade() -> None:
    for trigger, table, _, _ in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
    for name in _TRIGGER_FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.execute("DROP FUNCTION IF EXISTS onsale_listing_performers(bigint[])")
    op.execute("DROP FUNCTION IF EXISTS onsale_listing_refresh(bigint[])")
    op.drop_table("event_listings")
    op.execute("DROP FUNCTION IF EXISTS onsale_listing_document(text, text[], text, text)")
    op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS onsale_search")
