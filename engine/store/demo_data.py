"""The demo catalog's content: venues, events and name parts. Fictional throughout."""

from __future__ import annotations

import random
from dataclasses import dataclass

SURGE_EVENT_NAME = "Aurora Skies: Northern Lights Tour"
EXTRA_EVENT_DESCRIPTION = "Generated demo event."

CATEGORY_PRICES_CENTS = {"A": 12_900, "B": 8_900, "C": 5_900, "D": 3_900, "GA": 3_500}

CORE_VENUES = (
    # key, layout, name, city, country
    ("arena", "arena", "Riverside Arena", "Manchester", "GB"),
    ("theatre", "theatre", "The Alder Theatre", "London", "GB"),
    ("club", "club", "Kellerhaus", "Berlin", "DE"),
)

POOL_VENUES = (
    # layout, name, city, country, currency: where generated events take place
    ("arena", "Riverside Arena", "Manchester", "GB", "GBP"),
    ("theatre", "The Alder Theatre", "London", "GB", "GBP"),
    ("club", "Kellerhaus", "Berlin", "DE", "EUR"),
    ("small_arena", "Harbourside Dome", "Rotterdam", "NL", "EUR"),
    ("theatre", "Teatro Colonna", "Milan", "IT", "EUR"),
    ("theatre", "Stadsteater Norr", "Stockholm", "SE", "SEK"),
    ("club", "Blue Lantern Club", "Dublin", "IE", "EUR"),
    ("club", "Le Petit Nuage", "Lyon", "FR", "EUR"),
    ("small_arena", "Lakeshore Pavilion", "Chicago", "US", "USD"),
)


@dataclass(frozen=True, slots=True)
class CoreEvent:
    name: str
    category: str
    venue: str
    performers: tuple[tuple[str, str], ...]
    """(name, kind), headliner first."""
    starts_in_days: int
    onsale_in_minutes: int
    """Negative: already on sale when the catalog is loaded."""
    description: str
    currency: str = "GBP"
    buyer_limit: int = 8


CORE_EVENTS = (
    CoreEvent(SURGE_EVENT_NAME, "concert", "arena",
              (("Aurora Skies", "artist"), ("The Paper Lanterns", "artist")), 45, -5,
              "The first arena tour in six years. Expect a rush: six tickets per fan.",
              buyer_limit=6),
    CoreEvent("Midnight Static: Live", "concert", "arena", (("Midnight Static", "artist"),),
              60, 2 * 24 * 60, "Synth-rock with the full light show."),
    CoreEvent("Manchester Comets vs Leeds Harriers", "sports", "arena",
              (("Manchester Comets", "team"), ("Leeds Harriers", "team")), 12, -20 * 24 * 60,
              "Basketball: the northern derby."),
    CoreEvent("Riverside Rhinos vs Glasgow Stags", "sports", "arena",
              (("Riverside Rhinos", "team"), ("Glasgow Stags", "team")), 26, -10 * 24 * 60,
              "Ice hockey, league round 14."),
    CoreEvent("The Importance of Being Earnest", "theatre", "theatre",
              (("Alder Repertory Company", "company"),), 20, -30 * 24 * 60,
              "Wilde's comedy of manners in a new staging."),
    CoreEvent("Hamlet", "theatre", "theatre", (("Alder Repertory Company", "company"),), 75,
              7 * 24 * 60, "Shakespeare, uncut, with two intervals."),
    CoreEvent("Dana Okafor: Small Talk", "comedy", "theatre", (("Dana Okafor", "comedian"),),
              9, -14 * 24 * 60, "Stand-up about the things we say to fill a silence."),
    CoreEvent("Late Laughs: Stand-up Showcase", "comedy", "theatre",
              (("Priya Marsh", "comedian"), ("Tom Adeleke", "comedian"),
               ("Sofie Brandt", "comedian")), 33, -3 * 24 * 60,
              "Three comedians, one compere, no safety net."),
    CoreEvent("DJ Lumen: All Night Long", "concert", "club", (("DJ Lumen", "artist"),), 5,
              -21 * 24 * 60, "Techno from doors to close.", currency="EUR"),
    CoreEvent("Velvet Arcade", "concert", "club", (("Velvet Arcade", "artist"),), 18,
              -24 * 60, "Indie pop, album release show.", currency="EUR"),
    CoreEvent("The Quiet Foxes", "concert", "club", (("The Quiet Foxes", "artist"),), 40, 60,
              "Folk quartet, seated balcony or standing floor.", currency="EUR"),
    CoreEvent("Comedy im Keller", "comedy", "club", (("Jonas Weber", "comedian"),), 14,
              -7 * 24 * 60, "Stand-up in German and English.", currency="EUR"),
)

_ADJECTIVES = ("Silver", "Crimson", "Electric", "Hollow", "Wandering", "Paper", "Velvet",
               "Northern", "Golden", "Quiet", "Neon", "Wild", "Lunar", "Broken", "Bright")
_NOUNS = ("Foxes", "Harbours", "Engines", "Lanterns", "Comets", "Sparrows", "Tides", "Echoes",
          "Satellites", "Rivers", "Giants", "Orchards", "Wolves", "Ghosts", "Mirrors")
_FIRST = ("Ada", "Ben", "Chloe", "Dev", "Elin", "Farah", "Gus", "Hana", "Ivo", "Jade", "Kofi",
          "Lena", "Milo", "Nia", "Oskar", "Pia", "Rafa", "Saoirse", "Theo", "Uma", "Vera")
_LAST = ("Achterberg", "Bell", "Costa", "Dubois", "Eriksen", "Fox", "Greco", "Hale", "Ivanova",
         "Jensen", "Khan", "Lowe", "Moreau", "Novak", "Okoro", "Price", "Quinn", "Rossi")


def performer_names(count: int, rng: random.Random) -> list[str]:
    """Distinct band and solo-artist names, deterministic for a given generator."""
    names = [f"The {adjective} {noun}" for adjective in _ADJECTIVES for noun in _NOUNS]
    names += [f"{first} {last}" for first in _FIRST for last in _LAST]
    rng.shuffle(names)
    if count > len(names):
        raise ValueError(f"at most {len(names)} performer names")
    return names[:count]
