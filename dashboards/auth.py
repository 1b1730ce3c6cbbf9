"""Signing in to the dashboards, before any page runs.

Two ways, chosen by the deployment:
- the sign-in form (the default): a user name and password checked against the users file's salted hashes
  (dashboards/users.py);
- a trusted header (TOLLHOUSE_AUTH_HEADER=X-Forwarded-User, say), when a proxy in front of the app signs people
  in: the header names the user, and the users file gives the role. Only for an app the proxy alone can reach:
  anyone who reaches the app directly could send the header.

The signed-in user is this browser session's (st.session_state): it names the actor of every case edit and alert
decision, and its role decides the pages and whether phone numbers show whole.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from dashboards.users import UserError, authenticate, load_users

SESSION_KEY = "tollhouse_signed_in"


@dataclass(frozen=True)
class SignedIn:
    name: str
    role: str
    by_header: bool = False


class NotSignedIn(Exception):
    """A page asked for the user before anyone signed in."""


def signed_in() -> SignedIn:
    user = st.session_state.get(SESSION_KEY)
    if user is None:
        raise NotSignedIn("nobody is signed in to this session")
    return user


def header_name() -> str:
    return os.environ.get("TOLLHOUSE_AUTH_HEADER", "").strip()


def require_sign_in(keep_page: Callable[[], object]) -> SignedIn:
    """The signed-in user; else the sign-in form (or the proxy's header) and nothing more of the app.
    `keep_page` declares the app's pages without running one, so the page a link asked for (and its query
    parameters) is still the one shown after signing in."""
    header = header_name()
    if header:
        return _from_header(header)
    user = st.session_state.get(SESSION_KEY)
    if user is not None:
        return user
    keep_page()
    _sign_in_form()
    st.stop()


def _from_header(header: str) -> SignedIn:
    name = (st.context.headers.get(header) or "").strip().lower()
    if not name:
        st.error(f"Not signed in: this app signs people in through its proxy, and the request had no {header} header.")
        st.stop()
    try:
        user = load_users().get(name)
    except UserError as error:
        st.error(f"The dashboards cannot start: {error}")
        st.stop()
    if user is None:
        st.error(f"{name} is not a dashboards user: ask an administrator to add you with a role.")
        st.stop()
    signed = SignedIn(user.name, user.role, by_header=True)
    st.session_state[SESSION_KEY] = signed
    return signed


WARM_MODULES = ("pandas", "pyarrow", "duckdb", "altair", "dashboards.app_state", "dashboards.queries.revenue",
                "dashboards.queries.leakage", "dashboards.queries.fraud", "dashboards.queries.invoices")  # fmt: skip
_warming = threading.Lock()
_warmed: list[threading.Thread] = []


def _warm_up() -> None:
    """Import what the pages need (pandas, Arrow, DuckDB, Altair and the page queries: seconds on a fresh
    server) while the person types their password, so the first page after signing in does not wait for them."""
    import importlib

    for module in WARM_MODULES:
        importlib.import_module(module)


def _start_warm_up() -> None:
    with _warming:
        if not _warmed:  # once per server process
            thread = threading.Thread(target=_warm_up, name="tollhouse-warm-up", daemon=True)
            thread.start()
            _warmed.append(thread)


def _sign_in_form() -> None:
    _start_warm_up()
    st.title("Sign in to tollhouse")
    try:
        users = load_users()
    except UserError as error:
        st.error(f"The dashboards cannot start: {error}")
        return
    if not users:
        st.info("No dashboard users yet: add one with `python -m dashboards.users add NAME --role finance` "
                "(roles: dashboards/roles.toml).")  # fmt: skip
        return
    with st.form("sign_in"):
        name = st.text_input("User name", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        user = authenticate(name, password)
        if user is None:
            st.error("Wrong user name or password.")
            return
        st.session_state[SESSION_KEY] = SignedIn(user.name, user.role)
        st.rerun()


def sign_out_control(user: SignedIn) -> None:
    """The sidebar's signed-in name and, for the form's users, the sign-out button."""
    st.sidebar.markdown(f"Signed in as **{user.name}**")
    if not user.by_header and st.sidebar.button("Sign out", icon=":material/logout:", key="sign_out"):
        st.session_state.clear()  # the next person starts afresh: no filters or choices carried over
        st.rerun()
