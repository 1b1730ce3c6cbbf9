"""The tollhouse dashboards (`make dashboard`): one page per file, grouped by who uses them; the pages a
role sees come from dashboards/roles.toml."""

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `streamlit run` puts only this folder on the path

from dashboards.roles import RoleError, current_role, current_user

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
try:
    role = current_role()
except RoleError as error:
    st.error(f"The dashboards cannot start: {error}")
    st.stop()

pages = {
    section: [
        st.Page(f"views/{stem}.py", title=title, icon=icon, url_path=stem)
        for stem, title, icon in entries
        if stem in role.pages
    ]
    for section, entries in SECTIONS.items()
}
st.sidebar.caption(f"Signed in as **{current_user()}**, role **{role.name}**: {role.description}.")
st.navigation({section: entries for section, entries in pages.items() if entries}).run()
