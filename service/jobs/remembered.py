"""Conversions remembered after their records expire: whose they were and how they last
stood, without their files, results or options, for ``REMEMBER_S`` beyond the record.

A record expires ``LECTOR_RESULT_TTL_HOURS`` after its last update, and its file with it;
then a client asking for it would learn nothing but "not found". Convertorio's clients are
told the job expired instead (``is_expired``), from what is remembered here
(``lector:remembered:<conversion id>``: a few hundred bytes each).
"""

from __future__ import annotations

import msgspec
from redis import Redis

from service.jobs.record import Conversion
from service.options import Options

#: How long a conversion is remembered after its record expires: 30 days.
REMEMBER_S = 30 * 86_400
_KEY = "lector:remembered:"


class Remembered:
    """Expired conversions' last known state, on one Redis."""

    def __init__(self, redis: Redis, result_ttl_s: int) -> None:
        self._redis = redis
        self._ttl_s = result_ttl_s + REMEMBER_S

    def keep(self, record: Conversion) -> None:
        """Remember ``record`` as it stands now (its options, result, file and URLs left out) until
        REMEMBER_S after the record itself expires; a later call replaces it."""
        slim = msgspec.structs.replace(
            record,
            options=Options(),
            data=None,
            result_key=None,
            output=None,
            document_key=None,
            source_url=None,
            callback_url=None,
        )
        self._redis.set(_KEY + record.conversion_id, msgspec.json.encode(slim), ex=self._ttl_s)

    def get(self, conversion_id: str) -> Conversion | None:
        """The remembered conversion, or None (never remembered, or forgotten)."""
        raw = self._redis.get(_KEY + conversion_id)
        if not raw:
            return None
        try:
            return msgspec.json.decode(raw, type=Conversion)
        except (msgspec.ValidationError, msgspec.DecodeError):  # an older shape: as if forgotten
            return None
