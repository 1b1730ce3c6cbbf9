"""State shared by pages: the current snapshot, or a clear message when nothing is published yet."""

import streamlit as st

from dashboards.data import Snapshot, current_snapshot


def snapshot_or_stop() -> Snapshot:
    snapshot = current_snapshot()
    if snapshot is None:
        st.info("Nothing is published yet: run `make run` (or `tollhouse load`) first.")
        st.stop()
    return snapshot
