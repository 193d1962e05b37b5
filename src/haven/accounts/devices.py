"""A coarse name for the browser a session was opened from ("Firefox on Linux"), so that an operator can tell
their laptop's session from their phone's. Nothing finer: versions and build details would make the label a
fingerprint, and it is kept only sealed, in volatile memory, for the session's life."""

from __future__ import annotations

# First match wins: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def device_label(user_agent: str | None) -> str:
    """'Firefox on Linux', 'Chrome on Android', or 'Unknown browser' (Tor Browser says Firefox on Windows)."""
    agent = (user_agent or "")[:512]
    browser = next((name for token, name in _BROWSERS if token in agent), "")
    system = next((name for token, name in _SYSTEMS if token in agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or (f"A browser on {system}" if system else "Unknown browser")
