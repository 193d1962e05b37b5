"""Talking with the person at the terminal: a secret from a pipe is its next line, and the progress bar is
redrawn in place on a terminal but written a line each tenth of the way into a log."""

from __future__ import annotations

import io

from haven.console import ProgressBar, ask_secret


class Terminal(io.StringIO):
    """A stream that says it is a terminal (the edge we do not own)."""

    def isatty(self) -> bool:
        return True


def test_a_secret_from_a_pipe_is_its_next_line_without_the_line_end() -> None:
    piped = io.StringIO("correct horse\r\n123456\n")

    assert (ask_secret("Passphrase: ", stdin=piped), ask_secret("Code: ", stdin=piped)) == (
        "correct horse",
        "123456",
    )
    assert ask_secret("More: ", stdin=piped) == ""


def test_the_bar_shows_how_far_it_got_of_how_much() -> None:
    assert ProgressBar("opening language tallies", width=10).line(1_200, 2_400) == (
        "opening language tallies [#####.....] 1,200/2,400"
    )


def test_on_a_terminal_the_bar_is_redrawn_in_place_and_ended_when_done() -> None:
    screen = Terminal()
    bar = ProgressBar("opening", stream=screen, width=4)

    for done in (1, 2, 4):
        bar(done, 4)

    assert screen.getvalue() == "\ropening [#...] 1/4\ropening [##..] 2/4\ropening [####] 4/4\n"


def test_in_a_log_a_line_is_written_each_tenth_of_the_way_and_at_the_end() -> None:
    log = io.StringIO()
    bar = ProgressBar("opening", stream=log, width=10)

    for done in range(50, 2_401, 50):
        bar(done, 2_400)

    lines = log.getvalue().splitlines()
    assert lines[0] == "opening [..........] 50/2,400"
    assert lines[-1] == "opening [##########] 2,400/2,400"
    assert len(lines) == 11  # the first report, each further tenth, and the end
