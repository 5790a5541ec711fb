"""Per-browser-session state: the run this tab shows (its training runs as a job, elsewhere), and page setup."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from esmaml_core import jobs
from esmaml_core.comparison import RunSummary, scan_runs, select_runs
from esmaml_core.errors import RunStoreError
from esmaml_core.jobs import Job
from esmaml_core.runs import runs_root

SHOWN_RUN_KEY = "shown_run"
RUN_QUERY_PARAM = "run"
# The tab icon, served by this app: a Material icon as page_icon would be fetched from fonts.gstatic.com.
FAVICON = str(Path(__file__).with_name("favicon.png"))
REDRAW_SECONDS = 0.5  # how often a live view reads the run folder again while a job trains
# Rows of ``wrapping_columns`` wrap on a screen narrower than 1200 px (900 px with the sidebar open left
# a title as "Expl/ore" and labels cut to "Pre-adaptatio…"); wider, they are plain columns.
WRAPPING_KEY_PREFIX = "wrapping-"
NARROW_SCREEN_STYLE = f"""<style>
@media (max-width: 1200px) {{
  [class*="st-key-{WRAPPING_KEY_PREFIX}"] [data-testid="stHorizontalBlock"] {{ flex-wrap: wrap; row-gap: 0.5rem; }}
  [class*="st-key-{WRAPPING_KEY_PREFIX}"] [data-testid="stColumn"] {{ min-width: max-content; }}
}}
</style>"""


# Page -> (file relative to app/Home.py, Material icon: drawn with the font Streamlit serves itself).
PAGES = {
    "Train": ("pages/1_Train.py", ":material/model_training:"),
    "Explore": ("pages/2_Explore.py", ":material/explore:"),
    "Replay": ("pages/3_Replay.py", ":material/movie:"),
    "Compare": ("pages/4_Compare.py", ":material/monitoring:"),
    "Learn": ("pages/5_Learn.py", ":material/school:"),
    "Results": ("pages/6_Results.py", ":material/fact_check:"),
}


def page_setup(title: str) -> None:
    st.set_page_config(page_title=f"{title} · ES-MAML Studio", page_icon=FAVICON, layout="wide")
    refuse_an_unchosen_network_address()
    st.html(NARROW_SCREEN_STYLE)


def wrapping_container(key: str):
    """A container whose rows of columns wrap onto more lines on a narrow screen instead of squeezing what
    they hold (``NARROW_SCREEN_STYLE``); ``key`` names it, unique on its page."""
    return st.container(key=WRAPPING_KEY_PREFIX + key)


def wrapping_columns(key: str, spec, **kwargs) -> list:
    """``st.columns(spec, **kwargs)`` in a ``wrapping_container``: one row that wraps on a narrow screen."""
    return wrapping_container(key).columns(spec, **kwargs)


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


def shown_run() -> Job | None:
    """The run this tab shows, as a job; after a refresh or a page change, the run named in the URL."""
    name = st.session_state.get(SHOWN_RUN_KEY) or st.query_params.get(RUN_QUERY_PARAM)
    if not name:
        return None
    try:
        job = jobs.job(runs_root(), name)
        if not job.path.is_dir():
            raise RunStoreError(f"there is no run {name!r} in {runs_root()}")
    except RunStoreError as error:
        st.warning(f"Could not open run {name!r}: {error}")
        show_run(None)
        return None
    show_run(name)
    return job


def show_run(name: str | None) -> None:
    """Make run ``name`` (None: no run) the one this tab shows, and name it in the URL."""
    st.session_state[SHOWN_RUN_KEY] = name
    if name is None:
        st.query_params.pop(RUN_QUERY_PARAM, None)
    elif st.query_params.get(RUN_QUERY_PARAM) != name:  # page changes drop it from the URL
        st.query_params[RUN_QUERY_PARAM] = name


def saved_runs(method: str | None = None, task: str | None = None) -> list[RunSummary]:
    """The readable runs of the runs folder; a warning names each damaged one left out."""
    runs, problems = scan_runs(runs_root())
    for problem in problems:
        st.warning(problem, icon=":material/warning:")
    return select_runs(runs, method, task)
