"""Roles from configuration (dashboards/roles.toml): which pages a role sees and whether it sees whole phone
numbers. The role is the signed-in user's (dashboards/users.py, dashboards/auth.py), never a choice on the page:
a finance analyst cannot unmask a number by picking another role."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROLES_FILE = Path(__file__).resolve().parent / "roles.toml"
PAGES = ("overview", "revenue", "invoices", "leakage", "cases", "fraud", "data_operations", "tariffs")


class RoleError(Exception):
    """The roles file or the chosen role is wrong; the message says how."""


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    pages: tuple[str, ...]
    see_numbers: bool


def load_roles(path: Path | None = None) -> tuple[dict[str, Role], str]:
    """Every role of the file, and the default role's name."""
    path = path or Path(os.environ.get("TOLLHOUSE_ROLES_FILE") or ROLES_FILE)
    try:
        config = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise RoleError(f"cannot read the roles file {path}: {error}") from error
    roles = {}
    for name, spec in config.get("roles", {}).items():
        pages = tuple(spec.get("pages", ()))
        unknown = sorted(set(pages) - set(PAGES))
        if unknown or not pages:
            raise RoleError(f"{path}: role {name!r} names no pages or unknown ones {unknown} (pages: {PAGES})")
        if not isinstance(spec.get("see_numbers"), bool):
            raise RoleError(f"{path}: role {name!r} needs see_numbers = true or false")
        roles[name] = Role(name, spec.get("description", ""), pages, spec["see_numbers"])
    default = config.get("default_role", "")
    if default not in roles:
        raise RoleError(f"{path}: default_role {default!r} is not one of the roles {sorted(roles)}")
    return roles, default


def role_named(name: str, path: Path | None = None) -> Role:
    roles, _ = load_roles(path)
    if name not in roles:
        raise RoleError(f"role {name!r} is not one of the roles {sorted(roles)}")
    return roles[name]


def current_role(path: Path | None = None) -> Role:
    """The signed-in user's role (the app signs a person in before any page runs)."""
    from dashboards.auth import signed_in

    return role_named(signed_in().role, path)


def current_user() -> str:
    """Who edits cases and decides alerts: the signed-in user, never the account the app runs under."""
    from dashboards.auth import signed_in

    return signed_in().name
