"""Procedure files (docs/procedures.md): every shipped one loads, every request type follows one, and each
kind of mistake an organisation can make by hand is reported with its file, its line and its field.

The broken examples live in tests/fixtures/procedures/broken/, one mistake each, on the line marked `# <-`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from haven.cases.procedure import OUTCOMES, Procedure, Stage
from haven.cases.procedure_files import SHIPPED, Problem, ProcedureError, load_all, load_file
from haven.intake.questionnaires import default_catalogue

FIXTURES = Path(__file__).parents[2] / "fixtures" / "procedures"
ESCORT = FIXTURES / "escort.yaml"
BROKEN = FIXTURES / "broken"
SHIPPED_FILES = sorted(SHIPPED.glob("*.yaml"))


def marked_line(path: Path) -> int:
    """The 1-based line a broken example marks with `# <-`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    marked = [number for number, line in enumerate(lines, start=1) if "# <-" in line]
    assert len(marked) == 1, f"{path} marks {len(marked)} lines"
    return marked[0]


def only_problem(path: Path) -> Problem:
    with pytest.raises(ProcedureError) as raised:
        load_file(path)
    assert len(raised.value.problems) == 1, raised.value
    return raised.value.problems[0]


def test_there_are_shipped_procedure_files() -> None:
    assert len(SHIPPED_FILES) >= 5


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_a_shipped_procedure_file_loads(path: Path) -> None:
    procedure = load_file(path)
    assert procedure.id == path.stem
    assert procedure.steps


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_a_shipped_procedure_can_be_completed_and_every_step_is_reachable(path: Path) -> None:
    procedure = load_file(path)
    reached, frontier = {procedure.first.id}, [procedure.first.id]
    while frontier:
        for target in procedure.moves_from(frontier.pop()):
            if target not in reached and target not in OUTCOMES:
                reached.add(target)
                frontier.append(target)
    assert reached == {s.id for s in procedure.steps}
    assert any("completed" in s.next for s in procedure.steps)


def test_every_request_type_follows_a_shipped_procedure() -> None:
    loaded = load_all([SHIPPED])
    for kind in default_catalogue().types.values():
        assert kind.procedure, f"the request type {kind.id} names no procedure"
        assert loaded.get(kind.procedure) is not None, f"{kind.id} follows the unknown {kind.procedure}"


def test_a_valid_file_becomes_a_procedure_with_its_steps_in_order() -> None:
    escort = load_file(ESCORT)
    assert escort.id == "escort"
    assert [s.id for s in escort.steps] == ["first_contact", "waiting", "hiding", "travel", "aftercare"]
    assert escort.names["uk"] == "Супровід"
    waiting = escort.step("waiting")
    assert waiting is not None
    assert waiting.check_in_hours == 24
    remarks = waiting.field("remarks")
    assert remarks is not None
    assert not remarks.required
    hiding = escort.step("hiding")
    assert hiding is not None
    assert hiding.compartmentalised
    assert hiding.team == "legal"
    assert hiding.stage is Stage.VERIFIED
    assert waiting.stage is None
    assert escort.source == str(ESCORT)


@pytest.mark.parametrize(
    ("example", "field", "says"),
    [
        ("missing_language", "steps.0.name.uk", "Field required"),
        ("unknown_key", "steps.0.colour", "Extra inputs are not permitted"),
        ("zero_due_hours", "steps.0.due_hours", "greater than or equal to 1"),
        ("unknown_stage", "steps.0.stage", "'screened', 'verified' or 'in_progress'"),
        ("unknown_next", "steps.0.next.0", "'nowhere' is not a step of this procedure"),
        ("next_withdrawn", "steps.0.next.1", "'withdrawn' can end a case from any step"),
        ("duplicate_step", "steps.2.id", "another step is already called 'review'"),
        ("step_called_completed", "steps.1.id", "'completed' is an outcome, not a step"),
        ("never_completed", "steps", "no step leads to completed"),
        ("choice_with_one_option", "steps.0.fields.0", "a choice needs at least two options"),
        ("text_with_options", "steps.0.fields.0", "a text field has no options"),
        ("syntax_error", "(syntax)", "mapping values are not allowed here"),
    ],
)
def test_a_mistake_is_reported_with_its_file_line_and_field(example: str, field: str, says: str) -> None:
    path = BROKEN / f"{example}.yaml"
    problem = only_problem(path)
    assert (problem.file, problem.line, problem.field) == (str(path), marked_line(path), field)
    assert says in problem.message
    assert str(problem).startswith(f"{path}:{marked_line(path)}: {field}: ")


def test_every_broken_example_is_tested() -> None:
    tested = {
        "missing_language", "unknown_key", "zero_due_hours", "unknown_next", "next_withdrawn",
        "duplicate_step", "step_called_completed", "never_completed", "choice_with_one_option",
        "text_with_options", "syntax_error", "unknown_stage",
    }  # fmt: skip
    assert {p.stem for p in BROKEN.glob("*.yaml")} == tested


def test_a_file_that_is_not_there_is_reported_by_name(tmp_path: Path) -> None:
    problem = only_problem(tmp_path / "gone.yaml")
    assert problem.file == str(tmp_path / "gone.yaml")
    assert "cannot be read" in problem.message


def test_load_all_reports_every_broken_file_at_once(tmp_path: Path) -> None:
    for name in ("zero_due_hours", "unknown_next"):
        shutil.copy(BROKEN / f"{name}.yaml", tmp_path / f"{name}.yaml")
    with pytest.raises(ProcedureError) as raised:
        load_all([SHIPPED, tmp_path])
    assert {Path(p.file).name for p in raised.value.problems} == {"zero_due_hours.yaml", "unknown_next.yaml"}


def test_an_organisations_directory_adds_its_own_procedures(tmp_path: Path) -> None:
    shutil.copy(ESCORT, tmp_path / "escort.yaml")
    loaded = load_all([SHIPPED, tmp_path])
    assert {p.id for p in loaded} == {p.stem for p in SHIPPED_FILES} | {"escort"}


def _escort_as(procedure_id: str, directory: Path, name: str) -> Path:
    text = ESCORT.read_text(encoding="utf-8").replace("id: escort\n", f"id: {procedure_id}\n", 1)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_organisations_procedure_replaces_a_shipped_one_with_the_same_id(tmp_path: Path) -> None:
    own = _escort_as("leave_service", tmp_path, "our_leave_service.yaml")
    loaded = load_all([SHIPPED, tmp_path])
    replaced = loaded.get("leave_service")
    assert isinstance(replaced, Procedure)
    assert replaced.source == str(own)
    assert [s.id for s in replaced.steps] == [s.id for s in load_file(ESCORT).steps]


def test_the_later_directory_wins_whatever_the_file_names(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    _escort_as("escort", first, "zzz.yaml")
    kept = _escort_as("escort", second, "aaa.yml")
    escort = load_all([first, second]).get("escort")
    assert escort is not None
    assert escort.source == str(kept)


def test_two_files_with_one_id_in_one_directory_are_an_error(tmp_path: Path) -> None:
    _escort_as("escort", tmp_path, "one.yaml")
    second = _escort_as("escort", tmp_path, "two.yaml")
    with pytest.raises(ProcedureError) as raised:
        load_all([tmp_path])
    [problem] = raised.value.problems
    assert (problem.file, problem.line, problem.field) == (str(second), 1, "id")
    assert "one.yaml" in problem.message


def test_a_directory_that_does_not_exist_adds_nothing(tmp_path: Path) -> None:
    assert {p.id for p in load_all([SHIPPED, tmp_path / "none"])} == {p.stem for p in SHIPPED_FILES}
