"""The coarse device names shown in an operator's list of sessions."""

from __future__ import annotations

import pytest

from haven.accounts.devices import device_label

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
EDGE_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0"
)


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        (FIREFOX_LINUX, "Firefox on Linux"),
        (CHROME_ANDROID, "Chrome on Android"),
        (SAFARI_IPHONE, "Safari on iOS"),
        (EDGE_WINDOWS, "Edge on Windows"),
        ("curl/8.5.0", "curl"),
        ("", "Unknown browser"),
        (None, "Unknown browser"),
    ],
)
def test_a_browser_is_named_by_family_and_system_only(agent: str | None, label: str) -> None:
    assert device_label(agent) == label


def test_no_version_reaches_the_label() -> None:
    assert not any(ch.isdigit() for ch in device_label(FIREFOX_LINUX + " " + CHROME_ANDROID))
