"""Command line: ``python -m esmaml_core train|eval|export|render|dashboard ...``.

    python -m esmaml_core train --task four_corner --method es_maml --operator hill_climb \\
        --policy linear --iterations 100 --seed 0 --out runs/demo
    python -m esmaml_core eval --run runs/demo --tasks 20
    python -m esmaml_core export --run runs/demo --out exports/four_corner_demo
    python -m esmaml_core render --run runs/swimmer --task-index 0 --out video.mp4

Training options map one to one onto ``TrainConfig`` fields (``--adaptation-sigma`` is
``adaptation_sigma``); an option left out takes the config default. Bad input prints
one ``error:`` line naming the option, the value and what is allowed, and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields

from esmaml_core.assets import asset_paths, export_asset, load_trainer
from esmaml_core.config import EXECUTION_FIELDS, METHOD_DEFAULTS, METHODS, OPERATORS, POLICIES, ConfigError, TrainConfig
from esmaml_core.executors import EXECUTORS
from esmaml_core.fitness import FITNESS_SHAPINGS
from esmaml_core.launcher import add_dashboard_parser, command_dashboard
from esmaml_core.optimizers import OPTIMIZERS
from esmaml_core.runs import CheckpointError, RunStore, RunStoreError, run_training
from esmaml_core.sampling import SAMPLERS
from esmaml_core.tasks import TASK_FAMILIES
from esmaml_core.tasks.base import fixed_tasks
from esmaml_core.trainer import DivergenceError

EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130

# (field, argparse keyword arguments); the flag is --field with "_" -> "-".
TRAIN_OPTIONS: list[tuple[str, dict]] = [
    ("task", dict(choices=list(TASK_FAMILIES), help="task family")),
    ("method", dict(choices=list(METHODS), help="meta-learning method")),
    ("operator", dict(choices=list(OPERATORS), help="adaptation operator U_T")),
    ("policy", dict(choices=list(POLICIES), help="policy class")),
    ("hidden", dict(type=int, nargs="+", metavar="SIZE", help="MLP hidden layer sizes (with --policy mlp)")),
    ("iterations", dict(type=int, help="total meta-iterations (with --resume: the new total)")),
    ("seed", dict(type=int, help="random seed; the same seed gives the same run")),
    ("sigma", dict(type=float, help="meta-level perturbation scale")),
    ("perturbations", dict(type=int, help="meta-level perturbation directions n per iteration (antithetic: 2n rows)")),
    ("sampler", dict(choices=list(SAMPLERS), help="meta-level perturbation sampler")),
    ("lr", dict(type=float, help="meta learning rate")),
    ("optimizer", dict(choices=list(OPTIMIZERS), help="meta optimizer")),
    ("fitness", dict(choices=list(FITNESS_SHAPINGS), help="fitness shaping of meta-level returns")),
    ("queries", dict(type=int, help="K, queries per task in adaptation (pg_maml: trajectories per task)")),
    ("alpha", dict(type=float, help="adaptation step size (pg_maml: inner policy-gradient step)")),
    ("adaptation_sigma", dict(type=float, help="adaptation perturbation scale")),
    ("horizon", dict(type=int, help="episode length (default: the task's own: 100 point tasks, 200 others)")),
    ("task_batch", dict(type=int, help="tasks per iteration (first-order ES-MAML, pg_maml)")),
    ("eval_tasks", dict(type=int, help="held-out tasks scored every iteration")),
    ("probe_tasks", dict(type=int, help="evaluation tasks whose paths are recorded for the dashboard")),
    ("inner_steps", dict(type=int, help="pg_maml: policy-gradient steps in adaptation, new trajectories each")),
    ("init_log_std", dict(type=float, help="pg_maml: initial log standard deviation of the Gaussian policy")),
    ("executor", dict(choices=list(EXECUTORS), help="where rollouts run; results are identical on each")),
    ("workers", dict(type=int, help="worker processes or Ray tasks per rollout (process, ray)")),
    (
        "ray_address",
        dict(help="Ray cluster to join, e.g. auto or ray://host:10001 (default: $RAY_ADDRESS or a local Ray)"),
    ),
]
TRAIN_FLAGS: list[tuple[str, str, str]] = [
    # (field, flag, help): boolean switches
    ("hessian", "--hessian", "add the ES-Hessian term to first-order ES-MAML"),
    ("first_order", "--first-order", "pg_maml: first-order MAML (no gradient through the inner step)"),
]


# Shown in a reconstructed train command even at their defaults, so it reads on its own.
SPELLED_OUT = ("task", "method", "operator", "policy", "hidden", "iterations", "seed")


def flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def train_command(config: TrainConfig, out: str) -> str:
    """A ``train`` command that makes ``config`` in ``out``: the main choices, then every option off its default.

    Where rollouts run is left out (it does not change results); so are options the
    method or policy ignores (the operator for pg_maml, layer sizes for a linear policy).
    """
    defaults = TrainConfig.for_method(method=config.method)
    ignored = {*EXECUTION_FIELDS, *(("operator",) if config.method == "pg_maml" else ())}
    ignored |= set() if config.policy == "mlp" else {"hidden"}
    words = ["python -m esmaml_core train"]
    for field, _ in TRAIN_OPTIONS:
        value = getattr(config, field)
        if field not in ignored and (field in SPELLED_OUT or value != getattr(defaults, field)):
            words.append(f"{flag(field)} {' '.join(map(str, value)) if isinstance(value, tuple) else value}")
    words += [name for field, name, _ in TRAIN_FLAGS if getattr(config, field)]
    words += [] if config.obs_norm else ["--no-obs-norm"]
    return " ".join([*words, f"--out {out}"])


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"error: {message} (see --help)\n")


def build_parser() -> ArgumentParser:
    defaults = TrainConfig()
    parser = ArgumentParser(
        prog="python -m esmaml_core", description="ES-MAML Studio: train and evaluate meta-policies"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)

    train = commands.add_parser("train", help="meta-train a policy into a run folder")
    for field, kwargs in TRAIN_OPTIONS:
        default = getattr(defaults, field)
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else str(default)
        shown += "".join(f"; {method}: {given[field]}" for method, given in METHOD_DEFAULTS.items() if field in given)
        help_text = kwargs["help"] if default is None else f"{kwargs['help']} (default: {shown})"  # None: says its own
        train.add_argument(flag(field), dest=field, default=None, **{**kwargs, "help": help_text})
    for field, name, help_text in TRAIN_FLAGS:
        train.add_argument(name, dest=field, action="store_const", const=True, default=None, help=help_text)
    train.add_argument(
        "--no-obs-norm",
        dest="obs_norm",
        action="store_const",
        const=False,
        default=None,
        help="do not normalise observations by their running mean and std",
    )
    train.add_argument("--out", required=True, help="run folder to create (or to continue with --resume)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last good checkpoint")
    train.add_argument("--force", action="store_true", help="replace an existing --out folder")
    train.add_argument(
        "--probe-every", type=int, default=0, help="record probe trajectories every N iterations (default: 0, never)"
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    evaluate = commands.add_parser("eval", help="score a run's meta-policy before and after adaptation")
    evaluate.add_argument("--run", required=True, help="run folder or pretrained asset (assets/pretrained/<name>)")
    evaluate.add_argument("--tasks", type=int, default=20, help="number of held-out tasks (default: 20)")
    evaluate.add_argument("--split", choices=["test", "train"], default="test", help="task split (default: test)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the adaptation noise (default: 0)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object instead of text")

    export = commands.add_parser("export", help="save a run's meta-policy as a pretrained asset (.npz + .json)")
    export.add_argument("--run", required=True, help="run folder")
    export.add_argument("--out", required=True, help="asset path without suffix, e.g. exports/four_corner")
    export.add_argument("--force", action="store_true", help="replace an existing asset at --out")
    export.add_argument("--tasks", type=int, default=50, help="held-out tasks of the recorded evaluation (default: 50)")
    export.add_argument(
        "--made-by", default=None, help="how the run was made, for the .json (default: a train command for its config)"
    )

    render = commands.add_parser("render", help="MP4 of a MuJoCo meta-policy before | after adapting to one task")
    render.add_argument("--run", required=True, help="run folder or pretrained asset")
    render.add_argument("--task-index", type=int, default=0, help="which task of the split (default: 0)")
    render.add_argument("--split", choices=["test", "train"], default="test", help="task split (default: test)")
    render.add_argument("--seed", type=int, default=0, help="seed of the adaptation and the start state (default: 0)")
    render.add_argument(
        "--quality", choices=["fast", "high"], default="fast", help="fast: no shadows or reflections (default: fast)"
    )
    render.add_argument("--out", required=True, help="output .mp4 path")
    add_dashboard_parser(commands)
    return parser


def given_config_values(args: argparse.Namespace) -> dict:
    """The TrainConfig fields the user set on the command line."""
    names = {f.name for f in fields(TrainConfig)}
    values = {name: value for name, value in vars(args).items() if name in names and value is not None}
    if "hidden" in values:
        values["hidden"] = tuple(values["hidden"])
    return values


def config_for_new_run(values: dict) -> TrainConfig:
    if "hidden" in values and values.get("policy", TrainConfig.policy) != "mlp":
        raise ConfigError("hidden", values["hidden"], "only applies with --policy mlp")
    return TrainConfig.for_method(**values).validate()


def config_for_resume(store: RunStore, values: dict) -> TrainConfig:
    """The stored config; options given again must agree with it, except --iterations and where rollouts run."""
    stored = store.config()
    for name, value in values.items():
        if name not in ("iterations", *EXECUTION_FIELDS) and getattr(stored, name) != value:
            raise ConfigError(
                name, value, f"the run was made with {getattr(stored, name)!r}; drop it or start a new run"
            )
    return TrainConfig(**{**stored.to_dict(), "hidden": stored.hidden, **values}).validate()


def progress_line(iteration: int, total: int, pre: float, post: float, env_steps: int, seconds: float) -> str:
    width = 24
    filled = width * iteration // max(total, 1)
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {iteration}/{total}  pre {pre:9.2f}  post {post:9.2f}  "
        f"steps {env_steps:,}  {seconds:.2f} s/it"
    )


def command_train(args: argparse.Namespace) -> int:
    values = given_config_values(args)
    if args.resume:
        store = RunStore.open(args.out)
        config = config_for_resume(store, values)
        store.write_config(config)
        trainer, warnings = store.restore_trainer()
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
    else:
        config = config_for_new_run(values)
        store = RunStore.create(args.out, config, force=args.force)
        trainer, _ = store.restore_trainer()
    if trainer.state.iteration >= config.iterations:
        print(f"{args.out}: already at iteration {trainer.state.iteration} of {config.iterations}; nothing to do")
        return 0
    interactive = sys.stderr.isatty()
    report_every = max(1, config.iterations // 20)
    try:
        for result in run_training(trainer, store, config.iterations, probe_every=args.probe_every):
            if args.quiet:
                continue
            line = progress_line(
                result.iteration,
                config.iterations,
                result.pre_adaptation_return,
                result.post_adaptation_return,
                result.env_steps,
                result.iteration_seconds,
            )
            if interactive:
                print("\r" + line, end="", file=sys.stderr, flush=True)
            elif result.iteration % report_every == 0 or result.iteration == config.iterations:
                print(line, file=sys.stderr, flush=True)
    except DivergenceError as error:
        print(f"\nerror: {error}; the last good checkpoint is kept in {store.path}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"\ninterrupted at iteration {trainer.state.iteration}; continue with --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        trainer.close()
    if interactive and not args.quiet:
        print(file=sys.stderr)
    print(f"saved {store.path} at iteration {trainer.state.iteration}")
    return 0


def command_eval(args: argparse.Namespace) -> int:
    if args.tasks < 1:
        raise ConfigError("tasks", args.tasks, "must be >= 1")
    trainer, warnings = load_trainer(args.run)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    with trainer:
        outcome = trainer.evaluate(args.tasks, split=args.split, seed=args.seed)
    pre, post = outcome.pre_adaptation_returns, outcome.post_adaptation_returns
    summary = {
        "run": str(args.run),
        "iteration": trainer.state.iteration,
        "tasks": args.tasks,
        "split": args.split,
        "pre_adaptation_return": float(pre.mean()),
        "pre_adaptation_std": float(pre.std()),
        "post_adaptation_return": float(post.mean()),
        "post_adaptation_std": float(post.std()),
    }
    if args.json:
        print(json.dumps(summary))
        return 0
    config = trainer.config
    method = config.method if config.method == "pg_maml" else f"{config.method} + {config.operator}"
    print(f"run {args.run}: {config.task}, {method}, iteration {trainer.state.iteration}")
    print(f"pre-adaptation return:  {pre.mean():10.3f} ± {pre.std():.3f} over {args.tasks} {args.split} tasks")
    print(f"post-adaptation return: {post.mean():10.3f} ± {post.std():.3f} over {args.tasks} {args.split} tasks")
    return 0


def command_export(args: argparse.Namespace) -> int:
    if args.tasks < 1:
        raise ConfigError("tasks", args.tasks, "must be >= 1")
    if any(path.exists() for path in asset_paths(args.out)) and not args.force:
        raise ConfigError("out", args.out, "already holds an asset; choose another --out or add --force to replace it")
    store = RunStore.open(args.run)
    made_by = args.made_by or train_command(store.config(), args.run)
    meta = export_asset(store, args.out, args.tasks, made_by)
    evaluation = meta["evaluation"]
    print(
        f"exported {args.out} (iteration {meta['iteration']}): over {args.tasks} test tasks, "
        f"pre {evaluation['pre_adaptation_return']:.3f}, post {evaluation['post_adaptation_return']:.3f}"
    )
    return 0


def command_render(args: argparse.Namespace) -> int:
    from esmaml_core.render import QUALITIES, render_replay_video  # MuJoCo rendering loads only here

    trainer, warnings = load_trainer(args.run)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    split_size = len(trainer.family.split_ids(args.split))
    if not 0 <= args.task_index < split_size:
        raise ConfigError("task_index", args.task_index, f"must be in [0, {split_size}) for the {args.split} split")
    task = fixed_tasks(trainer.family, args.task_index + 1, args.split)[args.task_index]
    try:
        with trainer:
            video = render_replay_video(trainer, task, args.out, seed=args.seed, quality=QUALITIES[args.quality])
    except ValueError as error:
        raise ConfigError("run", args.run, str(error)) from None
    print(
        f"wrote {video.path} ({video.frames} frames, before | after): task {task.tolist()}, "
        f"return before {video.before_return:.2f}, after {video.after_return:.2f}"
    )
    return 0


COMMANDS = {
    "train": command_train,
    "eval": command_eval,
    "export": command_export,
    "render": command_render,
    "dashboard": command_dashboard,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as error:
        print(f"error: {flag(error.field)}: got {error.value!r}; {error.allowed}", file=sys.stderr)
    except (RunStoreError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
    return EXIT_USAGE
