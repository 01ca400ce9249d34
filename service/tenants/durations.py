"""Durations as operators write them: ``90``, ``90s``, ``30m``, ``24h``, ``7d``."""

from __future__ import annotations

import re

from service.errors import InvalidOption

#: A duration as the OpenAPI document shows it; grace_seconds reads the same (_DURATION, once
#: stripped and lower-cased).
GRACE_PATTERN = r"^\s*[0-9]{1,7}[smhdSMHD]?\s*$"
_DURATION = re.compile(r"^(?P<count>\d{1,7})(?P<unit>[smhd]?)$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
#: The longest grace a rotation may give the old key.
MAX_GRACE_S = 90 * 86400


def grace_seconds(text: str) -> int:
    """Seconds in ``text`` (at most 90 days), or InvalidOption with the accepted forms."""
    match = _DURATION.match(text.strip().lower())
    seconds = int(match["count"]) * _UNIT_S[match["unit"]] if match else -1
    if not 0 <= seconds <= MAX_GRACE_S:
        raise InvalidOption("The grace must be a duration such as 0, 90s, 30m, 24h or 7d, at most 90 days.")
    return seconds
