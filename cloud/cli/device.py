"""``fieldhub device create|list|show|update|rotate|delete``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cloud.cli.client import ApiClient, ApiError, add_connection_arguments, fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print raw JSON")
    sub = parser.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="register a device and print its one-time credentials")
    create.add_argument("name")
    create.add_argument("--id")
    create.add_argument("--kind", choices=["device", "gateway"], default="device")
    create.add_argument("--tenant")
    create.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    listing = sub.add_parser("list", help="list devices")
    listing.add_argument("--tenant")
    listing.add_argument("--label", metavar="KEY=VALUE")
    listing.add_argument("--status", choices=["online", "offline"])
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--offset", type=int, default=0)
    update = sub.add_parser("update", help="rename, relabel, enable or disable a device")
    update.add_argument("device_id")
    update.add_argument("--name")
    update.add_argument("--label", action="append", metavar="KEY=VALUE", help="replaces all labels; repeatable")
    enabled = update.add_mutually_exclusive_group()
    enabled.add_argument("--enable", dest="enabled", action="store_true", default=None)
    enabled.add_argument("--disable", dest="enabled", action="store_false", help="refuse its connections")
    for name, text in (("show", "show one device"), ("rotate", "issue new credentials"), ("delete", "delete")):
        sub.add_parser(name, help=text).add_argument("device_id")


def _labels(pairs: list[str]) -> dict[str, str]:
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            fail(f"label {pair!r} must be KEY=VALUE")
        labels[key] = value
    return labels


def _print(args: argparse.Namespace, data: Any) -> None:
    if args.json or not isinstance(data, dict):
        print(json.dumps(data, indent=2))
        return
    if "items" in data:
        print(f"{'ID':24} {'TENANT':12} {'STATUS':8} {'LAST SEEN':27} NAME")
        for d in data["items"]:
            print(f"{d['id']:24} {d['tenant']:12} {d['status']:8} {d['last_seen'] or '-':27} {d['name']}")
        print(f"({len(data['items'])} of {data['total']})")
        return
    for key, value in data.items():
        print(f"{key:12} {value}")


def run(args: argparse.Namespace) -> int:
    api = ApiClient(args.hub, args.user)
    try:
        if args.action == "create":
            body = {
                "name": args.name,
                "id": args.id,
                "kind": args.kind,
                "tenant": args.tenant,
                "labels": _labels(args.label),
            }
            data = api.post("/api/v1/devices", {k: v for k, v in body.items() if v is not None})
        elif args.action == "list":
            data = api.get(
                "/api/v1/devices",
                tenant=args.tenant,
                label=args.label,
                status=args.status,
                limit=args.limit,
                offset=args.offset,
            )
        elif args.action == "update":
            body = {"name": args.name, "enabled": args.enabled}
            if args.label is not None:
                body["labels"] = _labels(args.label)
            data = api.patch(f"/api/v1/devices/{args.device_id}", {k: v for k, v in body.items() if v is not None})
        elif args.action == "show":
            data = api.get(f"/api/v1/devices/{args.device_id}")
        elif args.action == "rotate":
            data = api.post(f"/api/v1/devices/{args.device_id}/credentials")
        else:
            api.delete(f"/api/v1/devices/{args.device_id}")
            print(f"deleted {args.device_id}")
            return 0
    except ApiError as exc:
        fail(exc.message)
    _print(args, data)
    return 0
