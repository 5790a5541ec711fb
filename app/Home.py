"""ES-MAML Studio: the dashboard's entry point (started by ``esmaml dashboard``, or ``streamlit run app/Home.py``)."""

import streamlit as st
from _shared.state import PAGES, page_link, page_setup

from esmaml_core import jobs
from esmaml_core.jobs import ALIVE_STATES
from esmaml_core.runs import runs_root

page_setup("Home")

st.title("ES-MAML Studio")
st.markdown(
    """
**ES-MAML** (Song et al., *ES-MAML: Simple Hessian-Free Meta Learning*, ICLR 2020) meta-learns a
policy that adapts to a new task from only **K** queries of it. The meta-gradient is estimated with
**evolution strategies**: perturb the meta-parameters θ with Gaussian noise, adapt each perturbed
policy with any operator U (an ES gradient step, or even **hill climbing**, which is not
differentiable), and weight each perturbation by the return after adaptation. No Hessians, no
back-propagation through the adaptation.

ES-MAML explores in **parameter space** (K deterministic policies, K smooth paths); PG-MAML, the
policy-gradient baseline, explores in **action space** (one noisy policy, K jittery paths).
This dashboard lets you train both and watch the difference.
"""
)

lecture = st.button(
    "Show the paper's exploration claim: ES-MAML beside PG-MAML", type="primary", icon=":material/explore:"
)
if lecture:  # Explore as a lecture view: the shipped pretrained policies, Four Corner first
    st.session_state.update({"explore.source": "pretrained", "explore.task": "four_corner"})
    st.switch_page(PAGES["Explore"][0])

DESCRIPTIONS = {
    "Train": "pick a task, policy, method and operator; start training jobs that go on while you look "
    "elsewhere (or close the tab); watch them learn live",
    "Explore": "K exploration paths of ES-MAML and PG-MAML, side by side",
    "Replay": "MuJoCo rollouts before and after adaptation, as video",
    "Compare": "learning curves of saved runs, mean and spread over seeds",
    "Learn": "the ideas of ES-MAML, each with a figure you can drive",
    "Results": "the paper's findings measured here: figures, tables and verdicts",
}
for page, description in DESCRIPTIONS.items():
    link, text = st.columns([1, 4], vertical_alignment="center")
    with link:
        page_link(page)
    text.caption(description)


def training_now(job: jobs.Job) -> str:
    return f"{job.config.label() if job.config else job.name}, {job.state} at iteration {job.iteration}"


alive = [job for job in jobs.list_jobs(runs_root()) if job.state in ALIVE_STATES]
if alive:  # jobs train on whatever page is open
    st.caption(f":material/model_training: Training now: {'; '.join(map(training_now, alive))} (see Train).")
