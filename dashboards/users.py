"""Who may sign in to the dashboards, and with which role: a users file of names, roles (dashboards/roles.toml)
and salted password hashes (scrypt). The passwords themselves are never stored.

    python -m dashboards.users add NAME --role ROLE    # asks for the password twice, without echo
    python -m dashboards.users remove NAME
    python -m dashboards.users list

The file is TOLLHOUSE_USERS_FILE, else <data folder>/dashboards/users.toml (beside the deployment's data, never
committed). Behind a proxy that signs people in, the users need no password: the proxy's header names them and
this file gives their role (TOLLHOUSE_AUTH_HEADER, dashboards/auth.py).
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from dashboards.roles import RoleError, load_roles
from orchestration.settings import Paths

NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
MIN_PASSWORD = 8
# scrypt's cost: 2^14 rounds, 16 MiB, about 50 ms a check: slow for a guesser, unnoticed at sign-in
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class UserError(Exception):
    """A user, a password or the users file is wrong; the message names which and how."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str  # empty: signs in only through the proxy's header


def users_file() -> Path:
    named = os.environ.get("TOLLHOUSE_USERS_FILE")
    return Path(named) if named else Paths.from_env().data / "dashboards" / "users.toml"


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """True when `password` is the one `stored` was made from (a constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


def load_users(path: Path | None = None) -> dict[str, User]:
    """Every user of the file (none when it does not exist yet); a user whose role is unknown is refused."""
    path = path or users_file()
    if not path.exists():
        return {}
    try:
        config = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise UserError(f"cannot read the users file {path}: {error}") from error
    roles, _ = load_roles()
    users = {}
    for name, spec in config.get("users", {}).items():
        role = spec.get("role")
        if role not in roles:
            raise UserError(f"{path}: user {name!r} has role {role!r}, not one of {sorted(roles)}")
        users[name] = User(name, role, spec.get("password", ""))
    return users


def authenticate(name: str, password: str, path: Path | None = None) -> User | None:
    """The user when `password` is theirs, else None (an unknown name costs the same time as a wrong password)."""
    user = load_users(path).get(name.strip().lower())
    if user is None or not user.password_hash:
        check_password(password, hash_password("not a user"))
        return None
    return user if check_password(password, user.password_hash) else None


def _write(users: dict[str, User], path: Path) -> None:
    lines = ["# Dashboard users: python -m dashboards.users add NAME --role ROLE (passwords as salted scrypt hashes)"]
    for user in sorted(users.values(), key=lambda u: u.name):
        lines += ["", f'[users."{user.name}"]', f"role = {json.dumps(user.role)}"]
        if user.password_hash:
            lines.append(f"password = {json.dumps(user.password_hash)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text("\n".join(lines) + "\n")
    temporary.chmod(0o600)
    os.replace(temporary, path)  # never half a file


def add_user(name: str, role: str, password: str | None, path: Path | None = None) -> User:
    """Add `name` with `role`, or change an existing user's role and password. `password` None: a user who signs
    in only through the proxy's header."""
    path = path or users_file()
    name = name.strip().lower()
    if not NAME.fullmatch(name):
        raise UserError(f"user name {name!r}: 1 to 64 of a-z, 0-9 and . _ @ - (starting with a letter or digit)")
    try:
        roles, _ = load_roles()
    except RoleError as error:
        raise UserError(str(error)) from error
    if role not in roles:
        raise UserError(f"role {role!r} is not one of {sorted(roles)} (dashboards/roles.toml)")
    if password is not None and len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    users = load_users(path)
    users[name] = User(name, role, hash_password(password) if password is not None else "")
    _write(users, path)
    return users[name]


def remove_user(name: str, path: Path | None = None) -> None:
    path = path or users_file()
    users = load_users(path)
    if name not in users:
        raise UserError(f"no user {name!r} in {path}")
    del users[name]
    _write(users, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.users", description="Dashboard users and roles.")
    verbs = parser.add_subparsers(dest="verb", required=True)
    add = verbs.add_parser("add", help="add a user, or change a user's role and password")
    add.add_argument("name")
    add.add_argument("--role", required=True)
    add.add_argument("--no-password", action="store_true", help="signs in only through the proxy's header")
    remove = verbs.add_parser("remove", help="remove a user")
    remove.add_argument("name")
    verbs.add_parser("list", help="list the users and their roles")
    args = parser.parse_args(argv)
    try:
        if args.verb == "add":
            password = None
            if not args.no_password:
                # the password from standard input when it is not a terminal (scripts); else asked twice, no echo
                if sys.stdin.isatty():
                    password = getpass.getpass(f"Password for {args.name}: ")
                    if getpass.getpass("Again: ") != password:
                        raise UserError("the two passwords differ; nothing was changed")
                else:
                    password = sys.stdin.readline().rstrip("\n")
            user = add_user(args.name, args.role, password)
            print(f"{user.name}: role {user.role} ({users_file()})")
        elif args.verb == "remove":
            remove_user(args.name)
            print(f"{args.name} removed")
        else:
            for user in load_users().values():
                print(f"{user.name}\t{user.role}\t{'password' if user.password_hash else 'proxy header only'}")
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
