"""Reading procedure files (docs/procedures.md), with mistakes named by file, line and field.

An organisation edits these by hand, so a mistake must say where it is: the YAML is read twice, once as
data to check and once as a tree of nodes that knows each value's line, and every problem the checks find
is reported with the line of the value at fault (or of its parent, when a field is missing).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from haven.cases import procedure as model
from haven.cases.procedure import ANYWHERE, OUTCOMES, Outcome
from haven.i18n import LANGUAGES

SHIPPED = Path(__file__).with_name("procedures")
_ID = r"^[a-z][a-z0-9_]{0,39}$"
Id = Annotated[str, StringConstraints(pattern=_ID)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000)]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class ProcedureError(ValueError):
    """One or more procedure files are wrong; `problems` says where and why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = list(problems)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Texts(_Strict):
    en: Text
    ru: Text
    uk: Text


class _Labelled(_Texts):
    id: Id


class _Field(_Labelled):
    kind: Literal["choice", "text"]
    required: bool = True
    options: list[_Labelled] = Field(default_factory=list)

    @model_validator(mode="after")
    def _options_fit_the_kind(self) -> _Field:
        if self.kind == "choice" and len(self.options) < 2:
            raise ValueError("a choice needs at least two options")
        if self.kind == "text" and self.options:
            raise ValueError("a text field has no options")
        return self


class _Step(_Strict):
    id: Id
    name: _Texts
    guidance: _Texts
    team: Id
    due_hours: Annotated[int, Field(ge=1, le=24 * 365)]
    check_in_hours: Annotated[int, Field(ge=1, le=24 * 30)] | None = None
    compartmentalised: bool = False
    stage: Literal["screened", "verified", "in_progress"] | None = None
    checklist: list[_Labelled] = Field(default_factory=list)
    fields: list[_Field] = Field(default_factory=list)
    replies: list[_Labelled] = Field(default_factory=list)
    next: Annotated[list[str], Field(min_length=1)]


class _Procedure(_Strict):
    id: Id
    name: _Texts
    steps: Annotated[list[_Step], Field(min_length=1)]


def load_file(path: Path) -> model.Procedure:
    """Read and check one procedure file; raises ProcedureError naming every problem found."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProcedureError(
            [Problem(name, 0, "(file)", f"cannot be read: {exc.__class__.__name__}")]
        ) from None
    try:
        data = yaml.safe_load(text)
        tree = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ProcedureError([Problem(name, line, "(syntax)", str(problem))]) from None
    try:
        parsed = _Procedure.model_validate(data)
    except ValidationError as exc:
        raise ProcedureError(
            [_problem(name, tree, tuple(e["loc"]), e["msg"]) for e in exc.errors(include_url=False)]
        ) from None
    problems = [_problem(name, tree, loc, message) for loc, message in _cross_checks(parsed)]
    if problems:
        raise ProcedureError(problems)
    return _build(parsed, name)


def load_all(directories: Iterable[Path]) -> model.Procedures:
    """Every procedure in these directories (*.yaml, *.yml); one in a later directory with the same id
    replaces an earlier one (an organisation's own over the shipped). Raises ProcedureError for every
    problem in every file, and for two files with one id in the same directory."""
    found: dict[str, model.Procedure] = {}
    problems: list[Problem] = []
    for directory in directories:
        seen_here: dict[str, str] = {}
        files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]) if directory.is_dir() else []
        for path in files:
            try:
                loaded = load_file(path)
            except ProcedureError as exc:
                problems += exc.problems
                continue
            if loaded.id in seen_here:
                problems.append(
                    Problem(str(path), 1, "id", f"{loaded.id!r} is also the id of {seen_here[loaded.id]}")
                )
                continue
            seen_here[loaded.id] = str(path)
            found[loaded.id] = loaded
    if problems:
        raise ProcedureError(problems)
    return model.Procedures(found)


def _cross_checks(p: _Procedure) -> list[tuple[tuple[Any, ...], str]]:
    """What a schema cannot say: unique ids, moves that lead somewhere, and a way to complete."""
    found: list[tuple[tuple[Any, ...], str]] = []
    ids = [s.id for s in p.steps]
    for i, step in enumerate(p.steps):
        if step.id in OUTCOMES:
            found.append((("steps", i, "id"), f"{step.id!r} is an outcome, not a step: choose another id"))
        if step.id in ids[:i]:
            found.append((("steps", i, "id"), f"another step is already called {step.id!r}"))
        for part in ("checklist", "fields", "replies"):
            part_ids = [item.id for item in getattr(step, part)]
            for j, item_id in enumerate(part_ids):
                if item_id in part_ids[:j]:
                    found.append((("steps", i, part, j, "id"), f"{item_id!r} appears twice in this step"))
        for j, target in enumerate(step.next):
            if target in (o.value for o in ANYWHERE):
                found.append(
                    (
                        ("steps", i, "next", j),
                        f"{target!r} can end a case from any step: leave it out of next",
                    )
                )
            elif target != Outcome.COMPLETED.value and target not in ids:
                found.append((("steps", i, "next", j), f"{target!r} is not a step of this procedure"))
            elif target == step.id:
                found.append((("steps", i, "next", j), "a step cannot move to itself"))
    if not any(Outcome.COMPLETED.value in s.next for s in p.steps):
        found.append((("steps",), "no step leads to completed: name it in the last working step's next"))
    return found


def _problem(file: str, tree: yaml.Node | None, loc: tuple[Any, ...], message: str) -> Problem:
    clean = message.removeprefix("Value error, ")
    return Problem(file, _line_of(tree, loc), ".".join(str(part) for part in loc) or "(top)", clean)


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the value at `loc`, or of the nearest parent that exists."""
    if node is None:
        return 1
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
    return int(node.start_mark.line) + 1


def _texts(t: _Texts) -> dict[str, str]:
    return {language: getattr(t, language) for language in LANGUAGES}


def _build(p: _Procedure, source: str) -> model.Procedure:
    steps = tuple(
        model.Step(
            id=s.id,
            names=_texts(s.name),
            guidance=_texts(s.guidance),
            team=s.team,
            due_hours=s.due_hours,
            next=tuple(s.next),
            checklist=tuple(model.ChecklistItem(c.id, _texts(c)) for c in s.checklist),
            fields=tuple(
                model.Field(
                    f.id,
                    model.FieldKind(f.kind),
                    f.required,
                    _texts(f),
                    tuple(model.Choice(o.id, _texts(o)) for o in f.options),
                )
                for f in s.fields
            ),
            replies=tuple(model.CannedReply(r.id, _texts(r)) for r in s.replies),
            check_in_hours=s.check_in_hours,
            compartmentalised=s.compartmentalised,
            stage=model.Stage(s.stage) if s.stage else None,
        )
        for s in p.steps
    )
    return model.Procedure(id=p.id, names=_texts(p.name), steps=steps, source=source)
