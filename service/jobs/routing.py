"""Which queue work waits on, by what its document is, and which media slot it holds.

Two queues: audio and video on the media queue, everything else (images, PDFs, office
documents) on the OCR queue, so a two-hour video never delays a receipt; ``lector worker
--queues`` says which a worker serves. The OCR queue keeps the name the only queue had
before media came (jobs queued then still run), and also carries the webhook deliveries
(``service.jobs.webhooks``). Media work also holds one of its key's concurrency slots of its
kind (``service.tenants.limits``) from its submission until it ends.

A document given by URL in a batch is fetched on a worker, so its format is not known when
it is queued: it goes to the OCR queue and holds no media slot, whatever it turns out to be.

Light on purpose (no RQ, no Redis): the command line reads the queues' names here.
"""

from __future__ import annotations

from service.convert.formats import INPUTS, Family, family

#: The OCR queue's name in Redis (RQ's ``rq:queue:lector``).
QUEUE_NAME = "lector"
MEDIA_QUEUE_NAME = "lector-media"
#: The queues by the names ``lector worker --queues`` takes, in the order a worker serving
#: both looks at them (a receipt waiting goes before a video waiting).
QUEUES: dict[str, str] = {"ocr": QUEUE_NAME, "media": MEDIA_QUEUE_NAME}
#: The families of input whose work runs on the media queue and holds a concurrency slot.
MEDIA_FAMILIES = (Family.VIDEO, Family.AUDIO)


def media_kind(sniffed: str | None) -> Family | None:
    """``video`` or ``audio`` for a document of the format ``sniffed`` (as
    ``service.pages.sniff`` names it) that is media; None for any other, or for None (a URL
    not fetched yet)."""
    if sniffed is None or sniffed not in INPUTS:
        return None
    kind = family(INPUTS[sniffed])
    return kind if kind in MEDIA_FAMILIES else None


def queue_name(sniffed: str | None) -> str:
    """The queue work on a document of the format ``sniffed`` waits on (its Redis name)."""
    return MEDIA_QUEUE_NAME if media_kind(sniffed) is not None else QUEUE_NAME
