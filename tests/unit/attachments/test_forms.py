"""The name a requester's device gave a file, as the desk shows it: no folder, no control characters."""

from __future__ import annotations

import pytest

from haven.attachments.forms import MAX_NAME_CHARS, display_name


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("повестка.jpg", "повестка.jpg"),
        ("C:\\Users\\ivan\\Documents\\ID.jpg", "ID.jpg"),
        ("/home/ivan/photos/ID.png", "ID.png"),
        ("ID\u202egpj.exe", "ID gpj.exe"),  # a right-to-left override cannot hide the real ending
        ("two\n\nlines\t.jpg", "two lines .jpg"),
        ("  spaced   out .png ", "spaced out .png"),
        ("", ""),
    ],
)
def test_a_file_name_is_shown_without_folders_or_control_characters(raw: str, shown: str) -> None:
    assert display_name(raw) == shown


def test_a_long_file_name_is_cut() -> None:
    assert len(display_name("a" * 1000 + ".jpg")) == MAX_NAME_CHARS
