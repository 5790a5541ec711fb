"""Results: the paper's findings measured here, drawn from the shipped run summaries (docs/RESULTS.md's figures)."""

import streamlit as st
from _shared.state import page_setup

from esmaml_core.findings import FINDINGS, NOTES_DIR, RESULTS_DIR, compute_seconds, summarize, table_rows
from esmaml_core.plots import finding_figures


@st.cache_data(show_spinner="Reading the run summaries…")
def finding_results(name: str):
    return summarize(FINDINGS[name], RESULTS_DIR)


@st.cache_data(show_spinner=False)
def figures(name: str):
    return finding_figures(FINDINGS[name], RESULTS_DIR)


page_setup("Results")
st.title("Results")
st.markdown(
    "Each finding of the ES-MAML paper, run here with 3 seeds and small budgets: the claim, the command, a "
    "figure (post-adaptation return against env steps, each run smoothed over 5 iterations, mean ± one standard "
    "deviation **over seeds**), a table "
    "and a verdict by a rule fixed before the runs. A run's score is the mean post-adaptation return of its "
    "last 5 iterations on its held-out evaluation tasks. The same page, as text: `docs/RESULTS.md`."
)
name = st.radio("Finding", tuple(FINDINGS), format_func=FINDINGS.label, horizontal=True, key="results.finding")
finding = FINDINGS[name]
results = finding_results(name)
st.subheader(finding.title)
st.markdown(f"**The paper** ({finding.section}, paraphrased): {finding.claim}")
if not results:
    st.info(f"No shipped runs for this finding yet: run `{finding.command()}`.")
    st.stop()
missing = finding.missing(results)
if missing:
    st.warning(f"Not judged yet: runs missing for {', '.join(missing)}.")
else:
    verdict = finding.verdict(results)
    st.markdown(f"#### Verdict: {verdict.outcome}")
    for words, held in verdict.checks:
        st.markdown(f"{':material/check:' if held else ':material/close:'} {words}")
notes = NOTES_DIR / f"{name}.md"
if notes.is_file():
    st.markdown(notes.read_text())
columns = st.columns(len(finding.tasks))
for column, (task, figure) in zip(columns, figures(name).items(), strict=False):
    column.plotly_chart(figure, key=f"results.{name}.{task}")
st.dataframe(table_rows(results), hide_index=True)
st.caption(
    f"`{finding.command()}` · {compute_seconds(results) / 60:.0f} min of training on 2 cores · {finding.choices}"
)
