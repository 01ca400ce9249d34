"""``lector keys``: the operator's managed keys, straight on Redis (LECTOR_REDIS_URL).

The same ``KeyStore`` operations as the ``/admin`` routes. ``create`` and ``rotate`` print
the new key alone on standard output (so ``KEY=$(lector keys create --name x)`` works) and
what it may do on standard error; the other commands print JSON (``aws-credentials``: the
new access key id and secret access key, sealed in Redis with LECTOR_SECRET).
"""

from __future__ import annotations

import argparse
import sys

import msgspec

from service.cli.options import add_struct_flags, given_fields, struct_from
from service.errors import LectorError
from service.settings import Settings
from service.tenants.records import KeyInfo, KeySpec


def add_keys_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``lector keys create | list | show | update | revoke | rotate | aws-credentials | usage``."""
    keys = commands.add_parser("keys", help="create and manage API keys with limits (on Redis)")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="a new key, printed once")
    add_struct_flags(create, KeySpec, required=("name",))
    actions.add_parser("list", help="every key (never a secret)")
    for name, text in (("show", "one key"), ("revoke", "refuse a key from now on")):
        actions.add_parser(name, help=text).add_argument("key_id")
    update = actions.add_parser("update", help="change a key's settings (a new --quota counts from now)")
    update.add_argument("key_id")
    add_struct_flags(update, KeySpec)
    rotate = actions.add_parser("rotate", help="a new key for the same id; the old one works for --grace")
    rotate.add_argument("key_id")
    rotate.add_argument("--grace", default="24h", help="0, 90s, 30m, 24h (default) or 7d")
    actions.add_parser(
        "aws-credentials", help="an AWS access key id and secret for the key (SigV4), printed once"
    ).add_argument("key_id")
    usage = actions.add_parser("usage", help="a key's usage per UTC day")
    usage.add_argument("key_id")
    usage.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (default: 29 days before --to)")
    usage.add_argument("--to", dest="end", help="last day (default: today, UTC)")
    usage.add_argument("--csv", action="store_true", help="CSV instead of JSON")


def run_keys(args: argparse.Namespace, settings: Settings) -> int:
    """Run one ``lector keys`` action; returns the exit status (1 when it is refused)."""
    from redis.exceptions import RedisError

    from service.redis_access import failure

    try:
        return _run(args, settings)
    except LectorError as exc:
        print(f"lector: {exc.message}", file=sys.stderr)
        return 1
    except RedisError as exc:
        print(f"lector: {failure(exc, settings.redis_url)}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from redis import Redis

    from service.tenants import usage
    from service.tenants.aws_credentials import AwsCredentials
    from service.tenants.durations import grace_seconds
    from service.tenants.store import KeyStore

    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
    store = KeyStore(redis)
    action = args.action
    if action == "create":
        try:
            spec = struct_from(args, KeySpec)
        except ValueError as exc:
            return _refuse(str(exc))
        return _issued(store.create(spec))
    if action == "list":
        for info in store.list():
            _print_json(info)
        return 0
    if action == "show":
        _print_json(store.info(store.get(args.key_id)))
    elif action == "update":
        changes = given_fields(args, KeySpec)
        if not changes:
            return _refuse("give at least one setting to change, e.g. --quota 100")
        _print_json(store.update(args.key_id, changes))
    elif action == "revoke":
        _print_json(store.revoke(args.key_id))
    elif action == "rotate":
        return _issued(store.rotate(args.key_id, grace_seconds(args.grace)))
    elif action == "aws-credentials":
        _print_json(AwsCredentials(store, redis, settings.secret).create(args.key_id))
        print(f"lector: AWS credentials of key {args.key_id}; shown once, store them now", file=sys.stderr)
    else:
        store.get(args.key_id)
        first, last = usage.span(args.start, args.end, settings.usage_days)
        rows = usage.days(redis, args.key_id, first, last, key_id=args.key_id)
        if args.csv:
            sys.stdout.write(usage.as_csv(rows))
        else:
            for row in rows:
                _print_json(row)
    return 0


def _issued(info: KeyInfo) -> int:
    """The new key alone on stdout; what it may do on stderr."""
    print(info.key)
    shown = msgspec.structs.replace(info, key=msgspec.UNSET)
    print(
        f"lector: key {info.key_id} ({info.name}); shown once, store it now: "
        + msgspec.json.encode(shown).decode(),
        file=sys.stderr,
    )
    return 0


def _print_json(value: msgspec.Struct) -> None:
    sys.stdout.buffer.write(msgspec.json.encode(value) + b"\n")


def _refuse(message: str) -> int:
    print(f"lector: {message.rstrip('.')}.", file=sys.stderr)
    return 2
