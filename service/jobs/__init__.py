"""The job layer: queued work's records, queue and stores on Redis + RQ.

One noun per module:

- ``record``: the stored record of a piece of queued work (``Conversion``), ids and times;
- ``store``: records in Redis (``JobStore``);
- ``idempotency``: ``Idempotency-Key`` claims;
- ``passwords``: PDF passwords, sealed with the server secret and held apart from the record
  while the job is unfinished;
- ``routing``: which queue work waits on (OCR or media) and which media slot it holds;
- ``queue``: how a job goes onto its RQ queue (dotted path, timeout, retries);
- ``batches``: batch records, their summaries and results files;
- ``intake``: submissions and batches in (``Intake``), as the lifecycle hands them over;
- ``uploads``: documents uploaded before their job exists;
- ``rollups``: the pair reliability counters;
- ``webhooks``: deliveries of a job's or a batch's end;
- ``runtime``: what a worker process runs its jobs with.

The RQ task that runs a job is the lifecycle's (``service.lifecycle.task``), enqueued by
dotted path. Nothing here imports the lifecycle or the API, and the core imports nothing here.
"""
