#!/usr/bin/env python3
"""Print a RabbitMQ ``password_hash`` for definitions.json (rabbit_password_hashing_sha256).

    python3 infra/rabbitmq/hash_password.py            # reads the password from stdin / a prompt
    printf %s "$PASSWORD" | python3 infra/rabbitmq/hash_password.py

The hash is base64(salt + sha256(salt + password)) with a random 4-byte salt,
the format RabbitMQ itself stores. The password is never taken from argv
(it would show in `ps` and shell history).
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import os
import sys


def password_hash(password: str) -> str:
    salt = os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def main() -> int:
    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.read()
    if not password:
        print("empty password", file=sys.stderr)
        return 2
    print(password_hash(password))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
