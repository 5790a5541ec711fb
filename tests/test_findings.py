"""The findings: their arms are valid runs, their rules judge both ways, a finding runs, resumes and is shipped
small, and docs/RESULTS.md is what the shipped summaries say."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from esmaml_core.assets import PROJECT_ROOT
from esmaml_core.errors import RunStoreError
from esmaml_core.findings import (
    FINDINGS,
    RESULTS_DIR,
    Arm,
    ArmResult,
    Finding,
    best_arm,
    better_with_few_queries,
    competitive,
    explores_more,
    finding_markdown,
    results_document,
    run_finding,
    ship,
    summarize,
    table_rows,
)
from esmaml_core.runs import RunStore

TINY = {"task": "four_corner", "perturbations": 3, "queries": 3, "eval_tasks": 2, "probe_tasks": 2, "iterations": 6}


def result(label: str, task: str, post: float, std: float = 1.0, **exploration: float) -> ArmResult:
    return ArmResult(Arm(label, {"task": task}), 3, post, std, post - 10, 1e6, 60.0, exploration)


def outcome(rule, results: list[ArmResult]) -> list[bool]:
    return [held for _, held in rule(results)]


@pytest.mark.parametrize("finding", FINDINGS.values(), ids=list(FINDINGS))
def test_every_finding_is_valid_runs_with_three_seeds_and_unique_names(finding: Finding):
    runs = list(finding.runs())  # validates every config
    assert len(finding.seeds) >= 3
    assert len({name for name, _ in runs}) == len(runs) == len(finding.arms) * len(finding.seeds)
    labels_per_task = [(arm.task, arm.label) for arm in finding.arms]
    assert len(set(labels_per_task)) == len(labels_per_task)


def test_best_arm_rule_holds_only_where_the_named_arm_leads():
    rule = best_arm("hill climbing")
    results = [result("hill climbing", "four_corner", -100), result("DPP", "four_corner", -150)]
    results += [result("hill climbing", "fb_swimmer", 10), result("DPP", "fb_swimmer", 20)]
    assert outcome(rule, results) == [True, False]
    assert FINDINGS["operators"].rule is not None


def test_competitive_rule_allows_one_seed_std_of_the_best():
    rule = competitive("linear")
    near = [result("linear", "fb_swimmer", 9.5), result("MLP", "fb_swimmer", 10.0, std=1.0)]
    far = [result("linear", "fb_walker", 5.0), result("MLP", "fb_walker", 10.0, std=1.0)]
    assert outcome(rule, near + far) == [True, False]


def test_low_k_rule_compares_at_k_5_and_10():
    results = [result(f"{method}, K = {k}", "fb_swimmer", post) for method, k, post in (
        ("ES-MAML", 5, 10), ("PG-MAML", 5, 5), ("ES-MAML", 10, 1), ("PG-MAML", 10, 5),
        ("ES-MAML", 20, 0), ("PG-MAML", 20, 50))]  # fmt: skip
    assert outcome(better_with_few_queries, results) == [True, False]


def test_exploration_rule_counts_corners_area_and_return():
    es = result("ES-MAML", "four_corner", -150, corners_visited=2.5, area_covered=0.3)
    pg = result("PG-MAML", "four_corner", -200, corners_visited=1.0, area_covered=0.4)
    assert outcome(explores_more, [es, pg]) == [True, False, True]


def test_verdict_words():
    finding = replace(FINDINGS["operators"], rule=lambda results: [("a", True), ("b", False)])
    assert finding.verdict([]).outcome == "partly"
    assert replace(finding, rule=lambda results: [("a", True)]).verdict([]).outcome == "reproduced"
    assert replace(finding, rule=lambda results: [("a", False)]).verdict([]).outcome == "not reproduced"


def test_a_finding_runs_resumes_ships_small_and_is_judged(tmp_path: Path):
    finding = Finding(
        "tiny",
        "Tiny",
        "hill climbing beats the ES gradient",
        "none",
        (Arm("ES gradient", {**TINY, "operator": "es_grad"}), Arm("hill climbing", {**TINY, "operator": "hill_climb"})),
        best_arm("hill climbing"),
        "tiny",
        seeds=(0, 1, 2),
        probe_tasks=2,
    )
    runs, shipped, lines = tmp_path / "runs", tmp_path / "results", []
    run_finding(finding, runs, workers=2, report=lines.append)
    assert lines[0].startswith("tiny: 0 runs done, 6 to train")
    for name, config in finding.runs():
        store = RunStore.open(runs / "tiny" / name)
        assert store.read_metrics()[-1]["iteration"] == config.iterations
        assert store.probe_iterations() == [config.iterations]  # adapted once after training, paths kept
    # a crash mid-run (the newest checkpoints gone): that run is continued, the finished ones are left alone
    name, config = next(finding.runs())
    for checkpoint in sorted((runs / "tiny" / name / "checkpoints").iterdir())[-2:]:  # 3 are kept
        checkpoint.unlink()
    lines.clear()
    run_finding(finding, runs, workers=2, report=lines.append)
    assert lines[0].startswith("tiny: 5 runs done, 1 to train")
    assert RunStore.open(runs / "tiny" / name).read_metrics()[-1]["iteration"] == config.iterations

    ship(finding, runs, shipped)
    files = {path.relative_to(shipped / "tiny" / name).as_posix() for path in (shipped / "tiny" / name).rglob("*")}
    assert files == {"config.json", "metrics.jsonl", "probes", f"probes/iter_{config.iterations:06d}.npz"}
    results = summarize(finding, shipped)
    assert [r.arm.label for r in results] == ["ES gradient", "hill climbing"]
    assert all(r.seeds == 3 and r.exploration["corners_visited"] >= 0 for r in results)
    rows = table_rows(results)
    assert rows[0]["task"] == "Four Corner" and "corners visited" in rows[0]
    text = finding_markdown(finding, results)
    assert "**Verdict: " in text and "not judged" not in text


def test_a_verdict_waits_for_missing_runs(tmp_path: Path):
    finding = FINDINGS["operators"]
    assert "Not run yet" in finding_markdown(finding, summarize(finding, tmp_path))


def test_results_page_text_matches_the_shipped_summaries():
    assert all((RESULTS_DIR / name).is_dir() for name in FINDINGS), "run experiments/run.py for every finding"
    assert (PROJECT_ROOT / "docs" / "RESULTS.md").read_text() == results_document(), (
        "docs/RESULTS.md is stale: python experiments/report.py"
    )


def test_a_run_folder_of_another_configuration_is_refused_not_reused(tmp_path: Path):
    arm = Arm("hill climbing", {**TINY, "operator": "hill_climb"})
    finding = Finding("tiny", "Tiny", "-", "-", (arm,), best_arm("hill climbing"), "-", seeds=(0,))
    RunStore.create(tmp_path / "tiny" / arm.run_name(0), replace(arm.config(0), sigma=0.3)).close()
    with pytest.raises(RunStoreError, match="another configuration"):
        run_finding(finding, tmp_path, report=lambda line: None)


def test_the_shipped_summaries_are_the_declared_runs():
    for finding in FINDINGS.values():
        for name, config in finding.runs():
            run = RunStore.open(RESULTS_DIR / finding.name / name)
            assert run.config() == config, f"{finding.name}/{name} was made by another configuration"
            assert run.read_metrics()[-1]["iteration"] == config.iterations
