"""What every Lector process does once when it starts: the API, a worker, ``lector ocr``.

Process-wide behaviour is set here, not when a module is imported: how freed memory is
returned (``return_freed_memory``), the decoders' warnings
and messages (``service.pages``), a private temporary directory (``service.workspace``), the metrics
(``service.metrics``), and the engine registry built from the settings.
"""

from __future__ import annotations

import ctypes

from service.engines import Engines
from service.metrics import configure_metrics
from service.pages import configure_decoders
from service.settings import Settings
from service.workspace import use_private_tempdir

#: glibc's mallopt parameter, and the size above which every block gets its own mapping.
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 1024 * 1024


def return_freed_memory() -> None:
    """Make glibc give large freed blocks back to the system.

    Page images are tens of megabytes, allocated by Pillow in blocks of up to 16 MB. glibc
    raises its mmap threshold each time such a block is freed, after which the blocks come
    from its heap and stay with the process: an API that had read twenty large scans kept
    a gigabyte. A fixed threshold keeps every block over 1 MB in its own mapping.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: its own allocator, its own policy
        return
    libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)


def prepare_process(settings: Settings) -> Engines:
    """Configure this process for Lector and return its engine registry."""
    return_freed_memory()
    configure_decoders()
    use_private_tempdir()
    configure_metrics(settings)
    return Engines(settings)
