"""Search finds names with punctuation: the document also holds each field's words without it.

Postgres' text parser keeps `AC/DC` as one lexeme (a path), `Club 2.0` as `2.0` (a
number) and `blink-182` as `blink` and `-182` (a signed integer). Queries are now parsed
by the same parser (`engine.store.listings.search`), so `AC/DC` finds `AC/DC`; the
document also gets each field with every run of punctuation turned into a space, so a fan
who types `ac dc` or `blink 182` finds them too. Every listing's document is rebuilt.

Revision ID: 0005_search_words
Revises: 0004_hot_path_fks
"""

from __future__ import annotations

from alembic import op

revision = "0005_search_words"
down_revision = "0004_hot_path_fks"
branch_labels = None
depends_on = None


def _document(field: str, weight: str, plain: bool) -> str:
    parsed = f"to_tsvector('onsale_search', {field})"
    if plain:
        words = f"regexp_replace({field}, '[^[:alnum:]]+', ' ', 'g')"
        parsed = f"({parsed} || to_tsvector('onsale_search', {words}))"
    return f"setweight({parsed}, '{weight}')"


def _function(plain: bool) -> str:
    fields = (("event_name", "A"), ("array_to_string(performer_names, ' ')", "A"),
              ("venue_name", "B"), ("city", "B"))
    body = "\n        || ".join(_document(field, weight, plain) for field, weight in fields)
    return ("CREATE OR REPLACE FUNCTION onsale_listing_document(event_name text,"
            " performer_names text[], venue_name text, city text) RETURNS tsvector\n"
            f"LANGUAGE sql IMMUTABLE AS $$\n    SELECT {body};\n$$")


_REBUILD = ("UPDATE event_listings SET search = onsale_listing_document("
            "name, performer_names, venue_name, city)")


def upgrade() -> None:
    op.execute(_function(plain=True))
    op.execute(_REBUILD)


def downgrade() -> None:
    op.execute(_function(plain=False))
    op.execute(_REBUILD)
