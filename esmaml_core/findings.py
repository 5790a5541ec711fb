"""The paper's findings as experiments: what is compared, how it is run, and how a verdict is reached.

A ``Finding`` names a claim of Song et al. (ES-MAML, ICLR 2020), the arms compared (each
an ordinary ``TrainConfig``, several seeds), and the rule that turns the measured numbers
into a verdict: reproduced, partly or not. ``run_finding`` trains every (arm, seed) with
the ``train`` command, a few child processes at a time, into ordinary run folders that the
Compare page opens; a run a crash left unfinished is continued, a finished one is kept.
``summarize`` reads run folders back (whole ones, or the shipped summaries: the same
folders without checkpoints) into one ``ArmResult`` per arm, and ``Finding.verdict`` judges
them. The rules are fixed here, before the numbers: never tuned to the paper.

Each arm's score is its **final post-adaptation return**: the mean, over the last
``FINAL_WINDOW`` iterations, of the post-adaptation return on the run's fixed held-out
evaluation tasks. Exploration findings also adapt the final meta-policy once on
``probe_tasks`` held-out tasks with its paths recorded, and measure those paths
(``exploration.path_metrics``).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from esmaml_core.assets import PROJECT_ROOT
from esmaml_core.cli import train_arguments
from esmaml_core.comparison import RunSummary, scan_runs
from esmaml_core.config import TrainConfig
from esmaml_core.errors import RunStoreError
from esmaml_core.exploration import exploration_metrics, record_checkpoint_probe
from esmaml_core.jobs import child_environment, train_child_command
from esmaml_core.presets import preset_values
from esmaml_core.registry import Entry, Registry
from esmaml_core.runs import CONFIG_FILE, METRICS_FILE, PROBE_DIR, RunStore, iteration_file, iteration_of
from esmaml_core.tasks import TASK_FAMILIES

FINAL_WINDOW = 5  # iterations averaged into a run's final post-adaptation return
RUNS_DIR = PROJECT_ROOT / "experiments" / "runs"  # whole run folders (checkpoints too; not shipped)
RESULTS_DIR = PROJECT_ROOT / "experiments" / "results"  # the shipped summaries: config, metrics, probes
PROBE_SEED = 0  # held-out adaptation recorded after training (exploration findings)

# The lighter MuJoCo configuration of the shipped assets (assets/README.md): 20 directions, K = 10,
# 4 evaluation tasks a iteration, 100-step episodes.
MUJOCO = {"perturbations": 20, "queries": 10, "eval_tasks": 4, "horizon": 100}


@dataclass(frozen=True)
class Arm:
    """One configuration compared in a finding, trained once per seed."""

    label: str
    values: Mapping[str, object]  # TrainConfig fields, task and iterations included

    @property
    def task(self) -> str:
        return str(self.values["task"])

    def config(self, seed: int) -> TrainConfig:
        return TrainConfig.for_method(**self.values, seed=seed).validate()

    def run_name(self, seed: int) -> str:
        slug = "".join(c if c.isalnum() else "-" for c in self.label.lower()).strip("-")
        return f"{self.task}-{'-'.join(filter(None, slug.split('-')))}-s{seed}"


@dataclass(frozen=True)
class ArmResult:
    """An arm's numbers over its seeds: means and standard deviations (ddof 0) across seeds."""

    arm: Arm
    seeds: int
    final_post: float
    final_post_std: float
    final_pre: float
    env_steps: float  # per run, at its end
    wall_seconds: float  # per run, training only
    exploration: dict[str, float] = field(default_factory=dict)  # metric -> mean over seeds and probe tasks

    @property
    def task(self) -> str:
        return self.arm.task


@dataclass(frozen=True)
class Verdict:
    outcome: str  # "reproduced", "partly" or "not reproduced"
    checks: tuple[tuple[str, bool], ...]  # each check of the rule, in words with its numbers, and whether it held

    @staticmethod
    def from_checks(checks: list[tuple[str, bool]]) -> Verdict:
        held = sum(ok for _, ok in checks)
        outcome = "reproduced" if held == len(checks) else "partly" if held else "not reproduced"
        return Verdict(outcome, tuple(checks))


@dataclass(frozen=True)
class Finding:
    """A claim of the paper, the arms that test it, and the rule that judges it."""

    name: str
    title: str
    claim: str  # the paper's claim, paraphrased
    section: str  # where in the paper
    arms: tuple[Arm, ...]
    rule: Callable[[list[ArmResult]], list[tuple[str, bool]]]
    choices: str  # the compute choices (iterations, horizons) and why
    seeds: tuple[int, ...] = (0, 1, 2)
    probe_tasks: int = 0  # > 0: exploration metrics on this many held-out tasks

    @property
    def tasks(self) -> list[str]:
        return list(dict.fromkeys(arm.task for arm in self.arms))

    def runs(self) -> Iterator[tuple[str, TrainConfig]]:
        """(run name, config) of every arm and seed."""
        for arm in self.arms:
            for seed in self.seeds:
                yield arm.run_name(seed), arm.config(seed)

    def command(self) -> str:
        return f"python experiments/run.py {self.name}"

    def missing(self, results: list[ArmResult]) -> list[str]:
        """The arms without a result for every seed, in words: a verdict waits for them."""
        complete = [result.arm for result in results if result.seeds == len(self.seeds)]
        return [f"{arm.label} on {task_label(arm.task)}" for arm in self.arms if arm not in complete]

    def verdict(self, results: list[ArmResult]) -> Verdict:
        return Verdict.from_checks(self.rule(results))


# --- the rules ------------------------------------------------------------------------------------


def by_label(results: list[ArmResult], task: str) -> dict[str, ArmResult]:
    return {result.arm.label: result for result in results if result.task == task}


def task_label(task: str) -> str:
    return TASK_FAMILIES.label(task)


def explores_more(results: list[ArmResult]) -> list[tuple[str, bool]]:
    """ES-MAML's K paths cover more of the arena (and more corners) and adapt better than PG-MAML's."""
    checks = []
    for task in dict.fromkeys(result.task for result in results):
        es, pg = by_label(results, task)["ES-MAML"], by_label(results, task)["PG-MAML"]
        where = task_label(task)
        for metric, words in (("corners_visited", "corners visited"), ("area_covered", "area covered")):
            if metric in es.exploration and np.isfinite(es.exploration[metric]):
                a, b = es.exploration[metric], pg.exploration[metric]
                checks.append((f"{where}: ES-MAML {words} {a:.3g} > PG-MAML {b:.3g}", a > b))
        checks.append(
            (
                f"{where}: ES-MAML final post-adaptation return {es.final_post:.1f} > PG-MAML {pg.final_post:.1f}",
                es.final_post > pg.final_post,
            )
        )
    return checks


def best_arm(label: str) -> Callable[[list[ArmResult]], list[tuple[str, bool]]]:
    """The arm called ``label`` has the highest mean final post-adaptation return on every task."""

    def rule(results: list[ArmResult]) -> list[tuple[str, bool]]:
        checks = []
        for task in dict.fromkeys(result.task for result in results):
            arms = by_label(results, task)
            best = max(arms.values(), key=lambda result: result.final_post)
            others = ", ".join(f"{name} {result.final_post:.1f}" for name, result in arms.items() if name != label)
            checks.append(
                (f"{task_label(task)}: {label} {arms[label].final_post:.1f} vs {others}", best.arm.label == label)
            )
        return checks

    return rule


def competitive(label: str) -> Callable[[list[ArmResult]], list[tuple[str, bool]]]:
    """The arm called ``label`` is the best or within one seed standard deviation of the best arm, on every task."""

    def rule(results: list[ArmResult]) -> list[tuple[str, bool]]:
        checks = []
        for task in dict.fromkeys(result.task for result in results):
            arms = by_label(results, task)
            best = max(arms.values(), key=lambda result: result.final_post)
            ours = arms[label]
            margin = best.final_post - ours.final_post
            checks.append(
                (
                    f"{task_label(task)}: {label} {ours.final_post:.1f}, best {best.arm.label} {best.final_post:.1f} "
                    f"(gap {margin:.1f}, its seed std {best.final_post_std:.1f})",
                    margin <= best.final_post_std,
                )
            )
        return checks

    return rule


LOW_K = (5, 10)


def better_with_few_queries(results: list[ArmResult]) -> list[tuple[str, bool]]:
    """At each low K, ES-MAML's final post-adaptation return is above PG-MAML's."""
    checks = []
    for task in dict.fromkeys(result.task for result in results):
        arms = by_label(results, task)
        for k in LOW_K:
            es, pg = arms[f"ES-MAML, K = {k}"], arms[f"PG-MAML, K = {k}"]
            checks.append(
                (
                    f"{task_label(task)}, K = {k}: ES-MAML {es.final_post:.1f} > PG-MAML {pg.final_post:.1f}",
                    es.final_post > pg.final_post,
                )
            )
    return checks


# --- the findings ---------------------------------------------------------------------------------

ES_HILL_CLIMB = {"method": "es_maml", "operator": "hill_climb", "policy": "linear"}
PG_FOUR_CORNER = preset_values("pg_maml_four_corner")  # PG-MAML's Four Corner configuration (docs/FOUR_CORNER_PG.md)
PG_GOAL_2D = preset_values("pg_maml_goal_2d")


def low_k_arms(task: str, extra: Mapping[str, object], iterations: dict[str, int]) -> tuple[Arm, ...]:
    """ES-MAML (hill climbing) and PG-MAML at K = 5, 10, 20 on ``task``; ``iterations`` by "es" and "pg"."""
    arms = []
    for k in (5, 10, 20):
        arms.append(
            Arm(
                f"ES-MAML, K = {k}",
                {"task": task, **ES_HILL_CLIMB, **extra, "queries": k, "iterations": iterations["es"]},
            )
        )
    for k in (5, 10, 20):
        pg_extra = {name: value for name, value in extra.items() if name not in ("perturbations",)}
        arms.append(
            Arm(
                f"PG-MAML, K = {k}",
                {"task": task, "method": "pg_maml", **pg_extra, "queries": k, "iterations": iterations["pg"]},
            )
        )
    return tuple(arms)


FINDINGS: Registry[Finding] = Registry(
    "finding",
    {
        "exploration": Entry(
            Finding(
                "exploration",
                "Parameter-space exploration (ES) against action-space exploration (PG)",
                "With a deterministic policy, ES-MAML explores by perturbing parameters: its K query paths "
                "head to different places (on Four Corner, different corners), while PG-MAML's action noise "
                "keeps its paths near one another, so ES-MAML adapts better on these sparse or goal-finding tasks.",
                "section 4.1 (exploration), Four Corner and 2D Goal",
                (
                    Arm("ES-MAML", {"task": "four_corner", **ES_HILL_CLIMB, "iterations": 200, "probe_tasks": 10}),
                    Arm("PG-MAML", {**PG_FOUR_CORNER, "probe_tasks": 10}),
                    Arm("ES-MAML", {"task": "goal_2d", **ES_HILL_CLIMB, "iterations": 100, "probe_tasks": 10}),
                    Arm("PG-MAML", {**PG_GOAL_2D, "probe_tasks": 10}),
                ),
                explores_more,
                "K = 20 queries on both sides, as the paper. ES-MAML: the shipped assets' configuration "
                "(defaults, 200 and 100 iterations); PG-MAML: the presets pg_maml_four_corner (MLP 32x32, "
                "Adam 0.003, 300 iterations) and pg_maml_goal_2d (linear, 100 iterations), the PG settings "
                "this project found to meta-learn these tasks (docs/FOUR_CORNER_PG.md).",
                probe_tasks=10,
            ),
            "exploration: ES-MAML vs PG-MAML on Four Corner and 2D Goal",
        ),
        "operators": Entry(
            Finding(
                "operators",
                "Adaptation operators: ES gradient, hill climbing, DPP",
                "Non-smooth adaptation operators work with ES-MAML, and hill climbing adapts best.",
                "sections 3.3 and 4 (adaptation operators)",
                tuple(
                    Arm(label, {"task": task, "method": "es_maml", "operator": operator, "policy": "linear", **extra})
                    for task, extra in (
                        ("four_corner", {"perturbations": 50, "iterations": 100}),
                        ("fb_swimmer", {**MUJOCO, "iterations": 40}),
                    )
                    for operator, label in (("es_grad", "ES gradient"), ("hill_climb", "hill climbing"), ("dpp", "DPP"))
                ),
                best_arm("hill climbing"),
                "Equal rollout budgets: every operator spends K = 20 (Four Corner) or K = 10 (Swimmer) "
                "query rollouts per task, the same perturbations and iterations. Four Corner: 50 directions "
                "and 100 iterations, not the defaults' 150 and 200, because DPP's exact k-DPP sampling "
                "eigendecomposes a 100x100 kernel for every row and took 1-40 s per iteration at 150 "
                "directions here (two runs' OpenBLAS threads contending: 0.28 s alone, and in training "
                "children since they run BLAS on one thread); Swimmer: the assets' lighter MuJoCo "
                "configuration, 40 iterations.",
            ),
            "adaptation operators: ES gradient vs hill climbing vs DPP",
        ),
        "low_k": Entry(
            Finding(
                "low_k",
                "Few queries: K = 5, 10, 20",
                "ES-MAML adapts well with few queries (K as low as 5 to 10) where PG-MAML, whose gradient "
                "estimates need many trajectories, falls behind.",
                "section 4.4 (few-shot regime), ForwardBackward Swimmer and BiasedSensorCartPole",
                (
                    *low_k_arms("fb_swimmer", MUJOCO, {"es": 20, "pg": 20}),
                    *low_k_arms("biased_sensor_cartpole", {}, {"es": 50, "pg": 100}),
                ),
                better_with_few_queries,
                "K is the queries per task: ES-MAML's hill-climbing rollouts, PG-MAML's trajectories per "
                "task. Swimmer: the assets' lighter MuJoCo configuration, 20 iterations each (the budget of "
                "the whole set: 36 runs); cart-pole: "
                "its own 200-step horizon, 50 ES-MAML iterations and 100 PG-MAML iterations (the shipped "
                "PG-MAML asset's count; a PG-MAML iteration rolls out about 5x fewer env steps at K = 10).",
            ),
            "low K: K = 5, 10, 20, ES-MAML vs PG-MAML",
        ),
        "architecture": Entry(
            Finding(
                "architecture",
                "Compact policies: linear against one and two hidden layers",
                "ES-MAML does well with compact policies: a linear policy is competitive with networks of "
                "one or two hidden layers.",
                "section 4.2 (compact architectures), ForwardBackward Swimmer and Walker",
                tuple(
                    Arm(label, {"task": task, **ES_HILL_CLIMB, **MUJOCO, "iterations": 30, **policy})
                    for task in ("fb_swimmer", "fb_walker")
                    for label, policy in (
                        ("linear", {"policy": "linear"}),
                        ("1 hidden layer (32)", {"policy": "mlp", "hidden": (32,)}),
                        ("2 hidden layers (32, 32)", {"policy": "mlp", "hidden": (32, 32)}),
                    )
                ),
                competitive("linear"),
                "ES-MAML with hill climbing, the assets' lighter MuJoCo configuration, 30 iterations per "
                "run (the budget of the whole set); MLPs with ReLU hidden layers.",
            ),
            "architecture: linear vs 1-2 hidden layers",
        ),
        "first_order": Entry(
            Finding(
                "first_order",
                "Zero-order against first-order and Hessian ES-MAML",
                "The zero-order (Hessian-free) ES-MAML is competitive with first-order ES-MAML, with or "
                "without the ES-Hessian term, without estimating any second derivative.",
                "sections 3.2-3.4 (zero-order and first-order ES-MAML)",
                tuple(
                    Arm(
                        label,
                        {
                            "task": task,
                            "operator": "es_grad",
                            "policy": "linear",
                            **extra,
                            **variant,
                            "iterations": iterations,
                        },
                    )
                    for task, extra, base in (("goal_2d", {}, 100), ("fb_ant", MUJOCO, 20))
                    for label, variant, iterations in (
                        ("zero-order", {"method": "es_maml"}, base),
                        ("first-order", {"method": "es_maml_first_order"}, 4 * base),
                        ("first-order + Hessian", {"method": "es_maml_first_order", "hessian": True}, 4 * base),
                    )
                ),
                competitive("zero-order"),
                "All with the ES-gradient operator (the one first-order ES-MAML differentiates). The "
                "first-order arms get 4x the iterations (100 vs 400 on 2D Goal, 20 vs 80 on Ant, the "
                "assets' lighter MuJoCo configuration), meant to match env steps; they still used 1.7-2.5x "
                "fewer (the table gives each arm's), so the comparison is not at equal env steps.",
            ),
            "zero-order vs first-order / Hessian ES-MAML",
        ),
    },
)


# --- running --------------------------------------------------------------------------------------


def train_child(config: TrainConfig, out: Path) -> list[str]:
    """The ``train`` command of one run, as a dashboard job runs it; ``--resume`` if the run exists."""
    resume = ["--resume"] if (out / CONFIG_FILE).is_file() else []
    return train_child_command(out, [*train_arguments(config), *resume], probe_every=0)


def run_is_done(path: Path, config: TrainConfig) -> bool:
    """Whether the run's newest checkpoint is its last iteration (metrics may run one row ahead of it).

    RunStoreError if the folder holds a run of another config (e.g. after a finding's budget changed).
    """
    if not (path / CONFIG_FILE).is_file():
        return False
    store = RunStore.open(path)
    if replace(store.config(), iterations=config.iterations) != config:
        raise RunStoreError(f"{path} holds a run of another configuration; move it away to train this finding")
    checkpoints = store.checkpoints()
    return bool(checkpoints) and iteration_of(checkpoints[-1]) >= config.iterations


def run_finding(
    finding: Finding, root: Path = RUNS_DIR, workers: int = 2, report: Callable[[str], None] = print
) -> None:
    """Train every (arm, seed) of ``finding`` into ``root / finding.name``, ``workers`` runs at a time.

    Finished runs are kept; an unfinished one (a crash, Ctrl-C) is continued from its last
    checkpoint. Then, for exploration findings, each run's final meta-policy is adapted once on
    ``probe_tasks`` held-out tasks with its paths saved into the run. A failed run is reported
    and the rest go on; RuntimeError at the end names the failures.
    """
    folder = root / finding.name
    pending = [(name, config) for name, config in finding.runs() if not run_is_done(folder / name, config)]
    report(f"{finding.name}: {len(list(finding.runs())) - len(pending)} runs done, {len(pending)} to train in {folder}")
    running: list[tuple[str, subprocess.Popen, float]] = []
    failed = []
    while pending or running:
        while pending and len(running) < workers:
            name, config = pending.pop(0)
            running.append(
                (
                    name,
                    subprocess.Popen(
                        train_child(config, folder / name), stdout=subprocess.DEVNULL, env=child_environment()
                    ),
                    time.monotonic(),
                )
            )
        time.sleep(0.5)
        for entry in [entry for entry in running if entry[1].poll() is not None]:
            name, process, started = entry
            running.remove(entry)
            if process.returncode:
                failed.append(name)
                report(f"  {name}: train exited with {process.returncode}")
            else:
                report(f"  {name}: done in {time.monotonic() - started:.0f} s")
    if finding.probe_tasks:
        for name, _ in finding.runs():
            if name not in failed and not RunStore.open(folder / name).probe_iterations():
                record_checkpoint_probe(folder / name, seed=PROBE_SEED, num_tasks=finding.probe_tasks)
    if failed:
        raise RuntimeError(f"{finding.name}: {len(failed)} runs failed: {', '.join(failed)}")


def ship(finding: Finding, root: Path = RUNS_DIR, out: Path = RESULTS_DIR) -> Path:
    """Copy the finding's run summaries (config, metrics, the last probe; no checkpoints) to ``out``."""
    target = out / finding.name
    for name, _ in finding.runs():
        source, copy = root / finding.name / name, target / name
        copy.mkdir(parents=True, exist_ok=True)
        for file in (CONFIG_FILE, METRICS_FILE):
            shutil.copyfile(source / file, copy / file)
        probes = RunStore.open(source).probe_iterations()
        if probes:
            (copy / PROBE_DIR).mkdir(exist_ok=True)
            probe_file = iteration_file(source / PROBE_DIR, probes[-1])
            shutil.copyfile(probe_file, copy / PROBE_DIR / probe_file.name)
    return target


# --- reading back ---------------------------------------------------------------------------------


def final_return(summary: RunSummary, stage: str = "post") -> float:
    """The mean ``stage``-adaptation return ("pre" or "post") of the run's last ``FINAL_WINDOW`` iterations."""
    return float(np.mean([row[f"{stage}_adaptation_return"] for row in summary.metrics[-FINAL_WINDOW:]]))


def probe_metrics(summary: RunSummary) -> dict[str, float]:
    """Exploration metrics of the run's last probe, averaged over its probe tasks."""
    store = RunStore.open(summary.path)
    iterations = store.probe_iterations()
    if not iterations:
        return {}
    probe = store.load_probe(iterations[-1])
    family = TASK_FAMILIES[summary.config.task]
    per_task = [exploration_metrics(probe, index, family) for index in range(len(probe.tasks))]
    corners = [m.corners_visited for m in per_task]
    return {
        "corners_visited": float(np.mean(corners)) if corners[0] is not None else float("nan"),
        "area_covered": float(np.mean([m.area_covered for m in per_task])),
        "path_length": float(np.mean([m.path_length for m in per_task])),
        "step_median": float(np.mean([m.step_percentiles[1] for m in per_task])),
        "final_distance": float(np.mean([m.final_distance for m in per_task])),
        "adapted_final_distance": float(np.mean([m.held_final_distance for m in per_task])),
    }


def runs_of(finding: Finding, root: Path) -> dict[str, RunSummary]:
    """The finding's runs found under ``root / finding.name``, by run name; missing ones left out."""
    summaries, _ = scan_runs(root / finding.name)
    return {summary.name: summary for summary in summaries if summary.metrics}


def summarize(finding: Finding, root: Path = RESULTS_DIR) -> list[ArmResult]:
    """One ``ArmResult`` per arm over the seeds found under ``root / finding.name`` (arms without runs left out)."""
    found = runs_of(finding, root)
    results = []
    for arm in finding.arms:
        summaries = [found[arm.run_name(seed)] for seed in finding.seeds if arm.run_name(seed) in found]
        if not summaries:
            continue
        posts = [final_return(summary) for summary in summaries]
        explorations = [probe_metrics(summary) for summary in summaries]
        results.append(
            ArmResult(
                arm,
                len(summaries),
                float(np.mean(posts)),
                float(np.std(posts)),
                float(np.mean([final_return(summary, "pre") for summary in summaries])),
                float(np.mean([summary.metrics[-1]["env_steps"] for summary in summaries])),
                float(np.mean([summary.metrics[-1]["wall_time"] for summary in summaries])),
                {key: float(np.mean([e[key] for e in explorations])) for key in explorations[0]},
            )
        )
    return results


def compute_seconds(results: list[ArmResult]) -> float:
    """Training time of all the finding's runs, one after another (each run's own wall time)."""
    return float(sum(result.wall_seconds * result.seeds for result in results))


# --- the report ------------------------------------------------------------------------------------

EXPLORATION_COLUMNS = {
    "corners_visited": ("corners visited", "{:.2f}"),
    "area_covered": ("area covered", "{:.3f}"),
    "path_length": ("path length", "{:.2f}"),
    "adapted_final_distance": ("adapted: final distance", "{:.2f}"),
}
NOTES_DIR = PROJECT_ROOT / "experiments" / "notes"  # hand-written notes per finding, shown under its verdict
FIGURES_DIR = PROJECT_ROOT / "docs" / "img" / "results"


def table_rows(results: list[ArmResult]) -> list[dict[str, str]]:
    """The finding's table: one row per arm, numbers as they are shown."""
    rows = []
    for result in results:
        row = {
            "task": task_label(result.task),
            "arm": result.arm.label,
            "seeds": str(result.seeds),
            "final post-adaptation return": f"{result.final_post:.1f} ± {result.final_post_std:.1f}",
            "final pre-adaptation return": f"{result.final_pre:.1f}",
            "env steps per run": f"{result.env_steps / 1e6:.2f} M",
            "minutes per run": f"{result.wall_seconds / 60:.1f}",
        }
        for key, (title, form) in EXPLORATION_COLUMNS.items():
            if key in result.exploration and np.isfinite(result.exploration[key]):
                row[title] = form.format(result.exploration[key])
            elif result.exploration:
                row[title] = "–"
        rows.append(row)
    return rows


def markdown_table(rows: list[dict[str, str]]) -> str:
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row[name] for name in header) + " |" for row in rows]
    return "\n".join(lines)


def figure_file(finding: Finding, task: str) -> str:
    return f"{finding.name}-{task}.png"


def finding_markdown(finding: Finding, results: list[ArmResult]) -> str:
    """The finding's section of docs/RESULTS.md, from its ``summarize``d runs."""
    if not results:
        return f"## {finding.title}\n\nNot run yet: `{finding.command()}`.\n"
    missing = finding.missing(results)
    figures = "\n".join(f"![{task_label(task)}](img/results/{figure_file(finding, task)})" for task in finding.tasks)
    if missing:
        judged = f"**Verdict: not judged yet**: runs missing for {', '.join(missing)}."
    else:
        verdict = finding.verdict(results)
        checks = "\n".join(f"- {'held' if ok else 'did not hold'}: {words}" for words, ok in verdict.checks)
        judged = f"**Verdict: {verdict.outcome}.**\n\n{checks}"
    notes_file = NOTES_DIR / f"{finding.name}.md"
    notes = f"\n{notes_file.read_text().strip()}\n" if notes_file.is_file() else ""
    return (
        f"## {finding.title}\n\n"
        f"**The paper** ({finding.section}, paraphrased): {finding.claim}\n\n"
        f"**Command:** `{finding.command()}` · **compute:** {compute_seconds(results) / 60:.0f} min of training "
        f"on 2 cores ({sum(r.seeds for r in results)} runs, two at a time)\n\n"
        f"**Choices:** {finding.choices}\n\n"
        f"{figures}\n\n"
        f"{markdown_table(table_rows(results))}\n\n"
        f"{judged}\n{notes}"
    )


RESULTS_INTRO = """# Results: the paper's findings, measured here

Each section below is one finding of Song et al., *ES-MAML: Simple Hessian-Free Meta
Learning* (ICLR 2020): the claim (paraphrased: the paper's own wording was not available
offline), the command that reproduces it, what it cost on this 2-core machine, a figure
(post-adaptation return against env steps, each run smoothed over 5 iterations, mean ± one
standard deviation over 3 seeds), a
table and a verdict. The verdict applies a rule fixed in `esmaml_core/findings.py` before
any number was seen: *reproduced* if every check holds, *partly* if some do, *not
reproduced* if none does. A run's score is the mean post-adaptation return of its last
5 iterations on its fixed held-out evaluation tasks; "±" is the standard deviation across
seeds.

The budgets are small (minutes per run, not the paper's days on many machines), so a
verdict says what these runs show, not what longer ones would. This page is generated from
the shipped run summaries in `experiments/results/` by `python experiments/report.py`; the
dashboard's Results page shows the same figures and tables, and
`esmaml dashboard --runs-dir experiments/results/<finding>` opens a finding's runs on
Compare. `tests/test_findings.py` checks that this page matches the summaries.
"""


def results_document(root: Path = RESULTS_DIR) -> str:
    """docs/RESULTS.md: the introduction, then every finding's section (each finding's runs read once)."""
    results = {name: summarize(finding, root) for name, finding in FINDINGS.items()}
    total = sum(compute_seconds(arm_results) for arm_results in results.values())
    sections = "\n".join(finding_markdown(finding, results[name]) for name, finding in FINDINGS.items())
    return f"{RESULTS_INTRO}\nAll findings together: {total / 60:.0f} min of training.\n\n{sections}"
