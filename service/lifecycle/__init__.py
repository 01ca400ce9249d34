"""The work lifecycle: charge → run the core → book the usage → metrics → rollups.

One lifecycle, two ways of running it, as RQ's ``Queue.run_job`` reuses the worker's own
success path:

- here and now (``now.run_now``): inside a request, which holds a sync slot around it; the
  charge is refunded when the work fails on Lector's side;
- queued (``submit.submit`` in the API, ``task.run_conversion`` on a worker): the charge is
  taken when the work is taken in, and the task runs the same steps, updates the record and
  announces the end.

``steps`` holds what both ways share; ``charges`` what a key pays. Every kind of work
(``service.work.Work``) and every dialect goes through here; none writes its own
charge/run/book. The API imports ``now`` and ``submit``, never ``task``.
"""
