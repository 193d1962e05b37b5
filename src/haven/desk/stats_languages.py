"""The funnel by language, for the coordinators' languages page.

A request's language is sealed to the team that received it (stats/languages.py), so this page opens the
tallies with the logged-in coordinator's own keys, for the requests their teams received, and keeps nothing
it opened. It says which teams were counted and how many tallies it could not open.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from haven.accounts.services import UnlockedOperator
from haven.db import Database
from haven.desk.stats_funnel import Parts, View, funnel_values
from haven.i18n import LANGUAGES
from haven.stats.languages import count_languages
from haven.stats.tables import by_language

LANGUAGE_WORDS = {"ru": "Russian", "uk": "Ukrainian", "en": "English"}
LANGUAGE_PARTS = Parts(known=LANGUAGES, words=LANGUAGE_WORDS)


def language_values(db: Database, operator: UnlockedOperator, *, view: View, today: date) -> dict[str, Any]:
    """Open the operator's teams' language tallies and arrange their funnel for the page."""
    counts = count_languages(db=db, operator=operator)
    return {
        **funnel_values(
            by_language(counts, per=view.per),
            view=view,
            today=today,
            parts=LANGUAGE_PARTS,
            split_words="language",
        ),
        "teams": counts.teams,
        "unreadable": counts.unreadable,
    }
