"""ES-MAML Studio: the dashboard's entry point (``streamlit run app/Home.py``)."""

import streamlit as st
from _shared.state import page_setup

page_setup("Home", "🧭")

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

PAGES = (
    ("pages/1_Train.py", "Train", "🏋️", "pick a task, policy, method and operator; watch it learn live"),
    ("pages/2_Explore.py", "Explore", "🧭", "K exploration paths of ES-MAML and PG-MAML, side by side"),
    ("pages/3_Replay.py", "Replay", "🎬", "MuJoCo rollouts before and after adaptation, as video"),
    ("pages/4_Compare.py", "Compare", "📊", "learning curves of saved runs, mean and spread over seeds"),
    ("pages/5_Learn.py", "Learn", "🎓", "the ideas of ES-MAML, each with a figure you can drive"),
)
for path, label, icon, description in PAGES:
    link, text = st.columns([1, 4], vertical_alignment="center")
    with link:
        st.page_link(path, label=label, icon=icon)
    text.caption(description)
