"""The job layer: asynchronous conversions on Redis + RQ.

One noun per module:

- ``record``: the stored record of a conversion (``Conversion``), ids and times;
- ``store``: records in Redis (``JobStore``);
- ``idempotency``: ``Idempotency-Key`` claims;
- ``passwords``: PDF passwords, held apart from the record while the job is unfinished;
- ``queue``: how a job goes onto the RQ queue (dotted path, timeout, retries);
- ``batches``: batch records, their summaries and results files;
- ``intake``: submissions and batches in (``Intake``), as the API hands them over;
- ``task``: the RQ job and its failure callback, which run on a worker.

Nothing here is imported by the core, and the API never imports ``task``.
"""
