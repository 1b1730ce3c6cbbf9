"""The tollhouse dashboards (`make dashboard`): one page per file, grouped by who uses them. A person signs in
first (dashboards/auth.py); the pages their role sees come from dashboards/roles.toml."""

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `streamlit run` puts only this folder on the path

from dashboards.auth import require_sign_in, sign_out_control
from dashboards.roles import PAGES, RoleError, role_named

SECTIONS = {  # section -> (page file stem, title, icon)
    "Overview": [("overview", "Overview", ":material/dashboard:")],
    "Finance": [("revenue", "Revenue", ":material/payments:"), ("invoices", "Invoices", ":material/receipt_long:")],
    "Revenue assurance": [
        ("leakage", "Leakage", ":material/water_drop:"),
        ("cases", "Cases", ":material/assignment:"),
        ("fraud", "Fraud", ":material/gpp_maybe:"),
    ],
    "Operations": [("data_operations", "Data operations", ":material/monitoring:")],
    "Pricing": [("tariffs", "Tariffs", ":material/price_change:")],
}

st.set_page_config(page_title="tollhouse", page_icon=":material/call:", layout="wide")


def pages_of(allowed: tuple[str, ...]) -> dict[str, list]:
    return {
        section: [
            st.Page(f"views/{stem}.py", title=title, icon=icon, url_path=stem)
            for stem, title, icon in entries
            if stem in allowed
        ]
        for section, entries in SECTIONS.items()
    }


# before signing in every page is declared but hidden and none runs: a deep link keeps its page for afterwards
user = require_sign_in(lambda: st.navigation(pages_of(PAGES), position="hidden"))
try:
    role = role_named(user.role)
except RoleError as error:
    st.error(f"The dashboards cannot start: {error}")
    st.stop()

pages = pages_of(role.pages)
# a metric's value is never cut to "86…" in a narrow column: it shrinks with the window and wraps between words
# (an amount and its currency), so totals are read in full
st.html(
    "<style>[data-testid='stMetricValue'] {font-size: clamp(1.25rem, 2.4vw, 2.25rem);}"
    "[data-testid='stMetricValue'] .stMarkdownEllipsis, [data-testid='stMetricValue'] p "
    "{white-space: normal; overflow: visible; text-overflow: clip;}</style>"
)
sign_out_control(user)
st.sidebar.caption(f"Role **{role.name}**: {role.description}.")
st.navigation({section: entries for section, entries in pages.items() if entries}).run()
