"""Request types and their questionnaires, loaded from questionnaires.toml and checked on load."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from haven.cases.states import Priority
from haven.i18n import LANGUAGES
from haven.retention.rules import RetentionRules, parse_rules

DEFAULT_PATH = Path(__file__).with_name("questionnaires.toml")


@dataclass(frozen=True)
class Option:
    id: str
    labels: Mapping[str, str]

    def label(self, language: str) -> str:
        return self.labels[language]


@dataclass(frozen=True)
class Question:
    id: str
    required: bool
    labels: Mapping[str, str]
    options: tuple[Option, ...]

    def label(self, language: str) -> str:
        return self.labels[language]

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


@dataclass(frozen=True)
class RequestType:
    id: str
    labels: Mapping[str, str]
    hints: Mapping[str, str]
    questions: tuple[Question, ...]
    # The procedure its cases follow (cases/procedures/), "" for none.
    procedure: str = ""

    def label(self, language: str) -> str:
        return self.labels[language]

    def hint(self, language: str) -> str:
        return self.hints.get(language, "")


@dataclass(frozen=True)
class PriorityRule:
    question: str
    answer: str
    priority: Priority


class InvalidAnswer(ValueError):
    """An answer that is missing or not one of the offered choices. `reason` is a message key."""

    def __init__(self, question: str, reason: str) -> None:
        super().__init__(f"{question}: {reason}")
        self.question = question
        self.reason = reason


@dataclass(frozen=True)
class Catalogue:
    types: Mapping[str, RequestType]
    rules: tuple[PriorityRule, ...]
    retention: RetentionRules = field(default_factory=RetentionRules)

    def validate(self, request_type: str, answers: Mapping[str, str]) -> dict[str, str]:
        """The answers that belong to this request type, each checked; raises InvalidAnswer."""
        kind = self.types[request_type]
        known = {q.id for q in kind.questions}
        if any(key not in known for key in answers):
            # Named as "answers", not by the key: nothing a caller invented is echoed back.
            raise InvalidAnswer("answers", "unknown_question")
        clean: dict[str, str] = {}
        for question in kind.questions:
            value = answers.get(question.id, "")
            if value == "":
                if question.required:
                    raise InvalidAnswer(question.id, "answer_required")
                continue
            if question.option(value) is None:
                raise InvalidAnswer(question.id, "answer_not_offered")
            clean[question.id] = value
        return clean

    def priority(self, answers: Mapping[str, str]) -> Priority:
        """The most urgent priority any rule gives these answers, else normal."""
        found = [r.priority for r in self.rules if answers.get(r.question) == r.answer]
        order = list(Priority)
        return min(found, key=order.index) if found else Priority.NORMAL


def _labels(table: Mapping[str, Any], where: str, prefix: str = "") -> dict[str, str]:
    missing = [lang for lang in LANGUAGES if not isinstance(table.get(prefix + lang), str)]
    if missing:
        raise ValueError(f"{where}: missing {prefix}{'/'.join(missing)}")
    return {lang: table[prefix + lang] for lang in LANGUAGES}


def _question(raw: Mapping[str, Any], where: str) -> Question:
    where = f"{where}.{raw.get('id', '?')}"
    options = tuple(Option(id=o["id"], labels=_labels(o, f"{where}.{o.get('id')}")) for o in raw["options"])
    return Question(
        id=raw["id"], required=bool(raw.get("required", False)), labels=_labels(raw, where), options=options
    )


def load(path: Path = DEFAULT_PATH) -> Catalogue:
    """Read and check a questionnaire file; any mistake raises ValueError naming the place."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    common = tuple(_question(q, f"{path.name}:common") for q in data.get("common", []))
    types = {
        type_id: RequestType(
            id=type_id,
            labels=_labels(raw, f"{path.name}:types.{type_id}"),
            hints={lang: raw.get("hint_" + lang, "") for lang in LANGUAGES},
            questions=common
            + tuple(_question(q, f"{path.name}:types.{type_id}") for q in raw.get("questions", [])),
            procedure=str(raw.get("procedure", "")),
        )
        for type_id, raw in data["types"].items()
    }
    rules = tuple(
        PriorityRule(question=r["question"], answer=r["answer"], priority=Priority(r["priority"]))
        for r in data.get("priority_rules", [])
    )
    retention = parse_rules(
        data.get("retention"),
        {type_id: raw["retention"] for type_id, raw in data["types"].items() if "retention" in raw},
        path.name,
    )
    return Catalogue(types=types, rules=rules, retention=retention)


@cache
def default_catalogue() -> Catalogue:
    return load()
