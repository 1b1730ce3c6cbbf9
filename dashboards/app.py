"""The tollhouse dashboards (`make dashboard`): one page per file, grouped by who uses them."""

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `streamlit run` puts only this folder on the path

st.set_page_config(page_title="tollhouse", layout="wide")
pages = {
    "Operations": [st.Page("pages/data_operations.py", title="Data operations", default=True)],
}
st.navigation(pages).run()
