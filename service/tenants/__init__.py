"""Tenants: managed API keys, their limits, and what each key used.

::

    keys.py             the key format: prefix, public id, secret, checksum; and its hash
    records.py          the stored key record and the specification operators write
    store.py            key records in Redis: create, list, update, revoke, rotate, authenticate
    aws_credentials.py  a key's AWS access keys (for SigV4), their secrets sealed
    limits.py           rate limits, quota and token budget, checked and taken in one Lua call; refunds
    usage.py            usage per key and UTC day: counters, cost, rows for the API and CSV
    durable.py          which of their Redis keys must outlive restarts (what a backup holds)

The layer sits between the API and the jobs: the API authenticates and charges here before
it queues anything, and a worker books usage and refunds here when a job ends. It imports
Redis, msgspec and the wire types, never the web framework or the queue.
"""
