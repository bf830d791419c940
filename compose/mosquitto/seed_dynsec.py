"""Give a new Mosquitto the hub's service account: write its dynamic security file unless it exists.

Run by the ``mosquitto-init`` service of docker-compose.yml, in the hub's image, before Mosquitto starts:
``python seed_dynsec.py /path/to/dynamic-security.json``. The account and its role are the ones the hub
gives a managed broker (:func:`hub.broker.mosquitto.dynsec.config_document`), with no device yet: the hub
adds the devices at its start (the reconcile). An existing file is left alone, as the plugin saves every
account change into it. The account comes from the settings every hub process reads
(``FIELDHUB_MOSQUITTO__USERNAME``, ``FIELDHUB_MOSQUITTO__PASSWORD`` or ``..._PASSWORD_FILE``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import orjson

from cloud.settings import load_replica_settings
from hub.broker.mosquitto.dynsec import config_document
from hub.errors import ConfigError


def seed(path: Path) -> bool:
    """Write the plugin's file at ``path`` with the hub's account; False when one is there already.

    Raises:
        ConfigError: the settings lack an external broker or the account's password.
    """
    if path.exists():
        return False
    account = load_replica_settings().mosquitto
    assert account.password is not None  # an external broker's settings are refused without one
    document = config_document(account.username, account.password.get_secret_value(), [])
    # Written aside and renamed: a crash never leaves Mosquitto a half-written file to refuse.
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the account's hash
    with os.fdopen(fd, "wb") as fh:
        fh.write(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    partial.replace(path)
    return True


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write(f"usage: {argv[0]} PATH/TO/dynamic-security.json\n")
        return 2
    path = Path(argv[1])
    try:
        created = seed(path)
    except ConfigError as exc:
        sys.stderr.write(f"seed_dynsec: {exc.message}\n")
        return 2
    sys.stdout.write(f"{path}: {'created with the hub account' if created else 'exists, left as it is'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
