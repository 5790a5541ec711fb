"""Per-browser-session state: the one run this tab is training, and its time-boxed ticks."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from esmaml_core.comparison import RunSummary, scan_runs, select_runs
from esmaml_core.errors import RunStoreError
from esmaml_core.runs import run_in, runs_root
from esmaml_core.training_session import Status, TrainingSession

SESSION_KEY = "training_session"
RUN_QUERY_PARAM = "run"
# The tab icon, served by this app: a Material icon as page_icon would be fetched from fonts.gstatic.com.
FAVICON = str(Path(__file__).with_name("favicon.png"))
TICK_SECONDS = 0.5  # how often a live view trains and redraws
STEP_BUDGET_SECONDS = 0.35  # training time per tick, leaving time to draw


# Page -> (file relative to app/Home.py, Material icon: drawn with the font Streamlit serves itself).
PAGES = {
    "Train": ("pages/1_Train.py", ":material/model_training:"),
    "Explore": ("pages/2_Explore.py", ":material/explore:"),
    "Replay": ("pages/3_Replay.py", ":material/movie:"),
    "Compare": ("pages/4_Compare.py", ":material/monitoring:"),
    "Learn": ("pages/5_Learn.py", ":material/school:"),
}


def page_setup(title: str) -> None:
    st.set_page_config(page_title=f"{title} · ES-MAML Studio", page_icon=FAVICON, layout="wide")
    refuse_an_unchosen_network_address()


def refuse_an_unchosen_network_address() -> None:
    """Serve nothing when no address was chosen: Streamlit then listens on every network interface.

    That happens when ``streamlit run`` starts outside the project folder (its
    .streamlit/config.toml is read only from there) and no ``--server.address`` is given.
    ``esmaml dashboard`` always chooses one (127.0.0.1 unless ``--host``).
    """
    if st.get_option("server.address") is None:
        st.error(
            "This dashboard was started without a network address, so it listens on every interface of this "
            "machine. Start it with `esmaml dashboard` (127.0.0.1; `--host` to serve a network on purpose), or "
            "give the address yourself: `streamlit run app/Home.py --server.address 127.0.0.1`.",
            icon=":material/lock:",
        )
        st.stop()


def page_link(page: str, label: str | None = None) -> None:
    path, icon = PAGES[page]
    st.page_link(path, label=label or page, icon=icon)


def current_session() -> TrainingSession | None:
    """This tab's training session; after a browser refresh, the run named in the URL, reopened paused."""
    session = st.session_state.get(SESSION_KEY)
    run_name = st.query_params.get(RUN_QUERY_PARAM)
    if session is not None:
        if run_name != session.store.name:
            st.query_params[RUN_QUERY_PARAM] = session.store.name  # page changes drop it from the URL
        return session
    if not run_name:
        return None
    try:
        session = TrainingSession.reopen(run_in(runs_root(), run_name))
    except (RunStoreError, OSError) as error:
        st.warning(f"Could not reopen run {run_name!r}: {error}")
        del st.query_params[RUN_QUERY_PARAM]
        return None
    set_current_session(session)
    return session


def saved_runs(method: str | None = None, task: str | None = None) -> list[RunSummary]:
    """The readable runs of the runs folder; a warning names each damaged one left out."""
    runs, problems = scan_runs(runs_root())
    for problem in problems:
        st.warning(problem, icon=":material/warning:")
    return select_runs(runs, method, task)


def set_current_session(session: TrainingSession | None) -> None:
    st.session_state[SESSION_KEY] = session
    if session is None:
        st.query_params.pop(RUN_QUERY_PARAM, None)
    else:
        st.query_params[RUN_QUERY_PARAM] = session.store.name


def tick_interval(session: TrainingSession | None) -> float | None:
    """run_every for a live fragment: tick while this tab's run is training, else stay still."""
    return TICK_SECONDS if session is not None and session.status is Status.RUNNING else None


def train_a_little(session: TrainingSession | None, ticking: bool) -> None:
    """One tick of training; once the run stops running, a ticking view reruns the page to stop."""
    if session is None:
        return
    if session.status is Status.RUNNING:
        session.tick(STEP_BUDGET_SECONDS)
    if ticking and session.status is not Status.RUNNING:
        st.rerun()
