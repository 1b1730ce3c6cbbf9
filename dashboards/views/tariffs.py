"""Tariffs: rate decks for pricing staff (docs/rating.md, "Managing tariffs"). Upload a customer plan or a
vendor deck (checked with the rules `tollhouse rate` applies), compare it with the deck the pipeline has now,
preview last month's traffic with it, approve another person's upload, and publish an approved one from its
effective date. Every act is the signed-in user's; the uploader cannot approve their own deck."""

import tempfile
from datetime import date, timedelta
from pathlib import Path

import streamlit as st

from dashboards.queries import tariffs
from dashboards.roles import current_user
from orchestration.rating import decks
from orchestration.settings import Paths

paths = Paths.from_env()
user = current_user()
st.title("Tariffs")
st.caption(
    "Customer plans and vendor decks, each upload kept as a version: a draft until another person approves it, "
    "then published for the pipeline from its effective date. Calls before that date keep their price."
)

# ---------------------------------------------------------------------------------------------------------------
# Upload

with st.form("tariff_upload", clear_on_submit=False, border=True):
    st.markdown("**Upload a deck**")
    cols = st.columns(2)
    kind = cols[0].radio("Deck", list(tariffs.KIND_NAMES), format_func=tariffs.KIND_NAMES.get, horizontal=True,
                         key="tariff_kind")  # fmt: skip
    effective = cols[1].date_input("Effective from", (date.today().replace(day=1) + timedelta(days=32)).replace(day=1),
                                   format="YYYY-MM-DD", key="tariff_effective")  # fmt: skip
    uploaded = st.file_uploader(
        "Tariff files of one rate plan: rate_plans.csv, rates.csv, time_bands.csv (holidays.csv when used)",
        type="csv", accept_multiple_files=True, key="tariff_files",
    )  # fmt: skip
    submitted = st.form_submit_button("Check and upload", type="primary")

if submitted:
    if not uploaded:
        st.error("Choose the deck's files first: rate_plans.csv, rates.csv and time_bands.csv.")
    else:
        with tempfile.TemporaryDirectory(prefix="tollhouse-upload-") as tmp, st.spinner("Checking the deck…"):
            for file in uploaded:
                (Path(tmp) / Path(file.name).name).write_bytes(file.getvalue())
            try:
                version = decks.upload(paths, Path(tmp), kind, effective, user)
            except decks.DeckError as error:
                version = None
                message = str(error).removeprefix(f"{Path(tmp).name}: ")
                st.error(f"The deck was not uploaded: {message}.")
                if error.problems:
                    st.table(tariffs.problems(error.problems).set_index("File"))
        if version is not None:
            st.session_state["tariff_version"] = (version.kind, version.rate_plan_id, version.version)
            st.success(f"{version.label} uploaded as a draft, effective from {version.effective_from}. "
                       "Another person approves it before it can be published.")  # fmt: skip

# ---------------------------------------------------------------------------------------------------------------
# Versions

found = decks.list_versions(paths)
st.subheader("Deck versions")
if not found:
    st.info("No deck has been uploaded yet.")
    st.stop()
st.dataframe(tariffs.versions(found), hide_index=True, width="stretch")

keys = [(v.kind, v.rate_plan_id, v.version) for v in found]
labels = {
    k: f"{tariffs.KIND_NAMES[v.kind]} {v.rate_plan_id} · v{v.version} · {v.status}"
    for k, v in zip(keys, found, strict=True)
}
if st.session_state.get("tariff_version") not in keys:
    st.session_state["tariff_version"] = keys[-1]  # the newest upload
chosen = st.selectbox("Open version", keys, format_func=labels.get, key="tariff_version")
deck = found[keys.index(chosen)]
rows = decks.files(paths, deck.kind, deck.rate_plan_id, deck.version)
currency = rows["rate_plans"][0]["currency"] if rows["rate_plans"] else ""

st.markdown(
    f"**{deck.label}**: {deck.status}, effective from {deck.effective_from}; uploaded by {deck.uploaded_by} "
    f"on {deck.uploaded_at:%Y-%m-%d %H:%M} UTC"
    + (f"; approved by {deck.approved_by}" if deck.approved_by else "")
    + (f"; published by {deck.published_by} into {deck.landed_in}" if deck.published_by else "")
)

# Compare with the deck the pipeline rates with now, or with another version of the same deck
others = [v.version for v in found if (v.kind, v.rate_plan_id) == (deck.kind, deck.rate_plan_id) and v != deck]
against = st.selectbox("Compare with", ["now", *others], key="tariff_against",
                       format_func=lambda o: "the deck the pipeline has now" if o == "now" else f"v{o}")  # fmt: skip
base = (
    decks.current_deck(paths, deck.kind, deck.rate_plan_id)["rates"]
    if against == "now"
    else decks.files(paths, deck.kind, deck.rate_plan_id, against)["rates"]
)
changes = decks.diff_rates(base, rows["rates"], deck.effective_from)
counts = {c: sum(x.change == c for x in changes) for c in ("added", "removed", "price changed")}
st.markdown(f"**Changes** on {deck.effective_from}: " + ", ".join(f"{n:,} {c}" for c, n in counts.items()))
if changes:
    st.dataframe(tariffs.diff(changes), hide_index=True, width="stretch")

# ---------------------------------------------------------------------------------------------------------------
# Preview, approve, publish

left, middle, right = st.columns(3)
if left.button("Preview on last month's traffic", key="tariff_preview"):
    try:
        month = decks.last_month(paths)
        with st.spinner("Re-rating the month's calls with both decks…"):
            st.session_state["tariff_preview_rows"] = (chosen, month, decks.preview(paths, *chosen, month))
    except decks.DeckError as error:
        st.error(str(error))
shown = st.session_state.get("tariff_preview_rows")
if shown and shown[0] == chosen:
    _, month, preview_rows = shown
    st.markdown(f"**Preview**: the calls of {month:%B %Y} this deck prices, now and with {deck.label}")
    if preview_rows:
        st.table(tariffs.preview(preview_rows, currency).set_index("Destination"))
    else:
        st.info(f"No calls of {month:%B %Y} were priced by {deck.rate_plan_id}.")

own = deck.uploaded_by == user
if middle.button("Approve", key="tariff_approve", disabled=deck.status != "draft" or own,
                 help="You uploaded this deck: another person approves it." if own else None):  # fmt: skip
    try:
        decks.approve(paths, *chosen, user)
        st.rerun()
    except decks.DeckError as error:
        st.error(str(error))
if deck.status == "draft" and own:
    middle.caption("You uploaded this deck: another person approves it.")
if right.button("Publish", key="tariff_publish", disabled=deck.status != "approved"):
    try:
        with st.spinner("Checking and landing the deck…"):
            decks.publish(paths, *chosen, user)
        st.rerun()
    except decks.DeckError as error:
        st.error(str(error))
        if error.problems:
            st.table(tariffs.problems(error.problems).set_index("File"))
