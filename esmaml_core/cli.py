"""Command line: ``python -m esmaml_core train|eval|export|render|dashboard ...``.

    python -m esmaml_core train --task four_corner --method es_maml --operator hill_climb \\
        --policy linear --iterations 100 --seed 0 --out runs/demo
    python -m esmaml_core eval --run runs/demo --tasks 20
    python -m esmaml_core export --run runs/demo --out exports/four_corner_demo
    python -m esmaml_core render --run runs/swimmer --task-index 0 --out video.mp4

Training options map one to one onto ``TrainConfig`` fields (``--adaptation-sigma`` is
``adaptation_sigma``); an option left out takes the preset's value (``--preset NAME``,
``esmaml_core.presets``), else the config default. Bad input prints
one ``error:`` line naming the option, the value and what is allowed, and exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from esmaml_core.assets import asset_paths
from esmaml_core.config import (
    EXECUTION_FIELDS,
    OPTIONS,
    ConfigError,
    Option,
    TrainConfig,
    applies,
    check_evaluation_tasks,
    check_task_count,
    default,
    requirement,
)
from esmaml_core.errors import CheckpointError, DivergenceError, RunExistsError, RunStoreError, WorkerError
from esmaml_core.launcher import add_dashboard_parser, command_dashboard
from esmaml_core.presets import PRESETS, with_preset
from esmaml_core.runs import RunStore, check_probe_every, load_trainer, run_training
from esmaml_core.tasks.base import fixed_tasks

EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130


def flag(field: str) -> str:
    """The command-line option of a config field: ``adaptation_sigma`` -> ``--adaptation-sigma``."""
    return "--" + field.replace("_", "-")


def switch(field: str, default: bool) -> str:
    """A boolean field's option: ``--hessian`` turns on a field that defaults to off, ``--no-obs-norm`` the reverse."""
    return flag(field) if not default else "--no-" + flag(field)[2:]


def shown_value(value: object) -> str:
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def train_arguments(config: TrainConfig, every_option: bool = False) -> list[str]:
    """The ``train`` options that make ``config``: the main choices, then every option off its default.

    Options the run does not read (the operator for pg_maml, layer sizes for a linear policy)
    are left out. With ``every_option`` every option the run reads is spelled out, where
    rollouts run included: a dashboard job launches exactly the config it was given.
    """
    defaults, values = TrainConfig.for_method(method=config.method), config.to_values()
    words = []
    for name, declared in OPTIONS.items():
        value, default = values[name], getattr(defaults, name)
        if (declared.execution and not every_option) or not applies(name, values):
            continue
        if declared.kind == "bool":
            words += [switch(name, default)] if value != default else []
        elif value is not None and (every_option or declared.spelled_out or value != default):
            words += [flag(name), *shown_value(value).split()]
    return words


def train_command(config: TrainConfig, out: str) -> str:
    """A ``train`` command that makes ``config`` in ``out`` (``train_arguments``); where rollouts run is left
    out, as it does not change results."""
    return " ".join(["python -m esmaml_core train", *train_arguments(config), f"--out {out}"])


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"error: {message} (see --help)\n")


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


ARGUMENT_TYPES = {
    "int": {"type": int},
    "float": {"type": float},
    "sizes": {"type": int, "nargs": "+", "metavar": "SIZE"},
}


def option_help(name: str, declared: Option) -> str:
    """The option's help with its default, and any method's own default."""
    default = TrainConfig.__dataclass_fields__[name].default
    text = declared.help
    if declared.kind == "bool":  # the switch flips the default: its help says which way
        text = f"switch off (on by default): {text}" if default else f"{text} (off by default)"
    elif default is not None:  # an optional field's help says what leaving it out means
        shown = shown_value(default) + "".join(f"; {method}: {value}" for method, value in declared.method_defaults)
        text += f" (default: {shown})"
    limits = requirement(name)
    return f"{text} [{limits}]" if limits else text


def add_train_options(parser: argparse.ArgumentParser) -> None:
    """One command-line option per declared config field."""
    for name, declared in OPTIONS.items():
        default = TrainConfig.__dataclass_fields__[name].default
        if declared.kind == "bool":
            parser.add_argument(
                switch(name, default),
                dest=name,
                action="store_const",
                const=not default,
                default=None,
                help=option_help(name, declared),
            )
            continue
        kwargs = ARGUMENT_TYPES.get(declared.kind, {})
        if declared.kind == "choice":
            kwargs = {"choices": list(declared.choices)}
        parser.add_argument(flag(name), dest=name, default=None, help=option_help(name, declared), **kwargs)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m esmaml_core", description="ES-MAML Studio: train and evaluate meta-policies"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)

    train = commands.add_parser("train", help="meta-train a policy into a run folder")
    add_train_options(train)
    train.add_argument(
        "--preset",
        default=None,
        help=f"start from a named configuration ({', '.join(PRESETS)}); options given here win "
        "(docs/ARCHITECTURE.md, Presets)",
    )
    train.add_argument("--out", required=True, help="run folder to create (or to continue with --resume)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last good checkpoint")
    train.add_argument("--force", action="store_true", help="replace an existing --out folder")
    train.add_argument(
        "--probe-every",
        type=non_negative_int,
        default=0,
        help="save probe paths into the run every N iterations (default: 0, never)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    evaluate = commands.add_parser("eval", help="score a run's meta-policy before and after adaptation")
    evaluate.add_argument("--run", required=True, help="run folder or pretrained asset (assets/pretrained/<name>)")
    evaluate.add_argument("--tasks", type=int, default=20, help="number of held-out tasks (default: 20)")
    evaluate.add_argument("--split", choices=["test", "train"], default="test", help="task split (default: test)")
    evaluate.add_argument("--seed", type=non_negative_int, default=0, help="seed of the adaptation noise (default: 0)")
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
    render.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed of the adaptation and the start state (default: 0)"
    )
    render.add_argument(
        "--quality", choices=["fast", "high"], default="fast", help="fast: no shadows or reflections (default: fast)"
    )
    render.add_argument("--out", required=True, help="output .mp4 path")
    add_dashboard_parser(commands)
    return parser


def given_config_values(args: argparse.Namespace) -> dict:
    """The TrainConfig fields the user set on the command line."""
    values = {name: value for name, value in vars(args).items() if name in OPTIONS and value is not None}
    if "hidden" in values:
        values["hidden"] = tuple(values["hidden"])
    return values


RESUME_CHANGEABLE = ("iterations", *EXECUTION_FIELDS)


def config_for_resume(store: RunStore, values: dict, given: dict) -> TrainConfig:
    """The stored config; options in ``values`` must agree with it, except --iterations and where rollouts
    run, which only ``given`` (what the user typed, not a preset) may change.

    An execution option that no longer applies (--workers after --executor inprocess) goes back to its default.
    """
    stored = store.config()
    for name, value in values.items():
        if name not in RESUME_CHANGEABLE and getattr(stored, name) != value:
            raise ConfigError(
                name, value, f"the run was made with {getattr(stored, name)!r}; drop it or start a new run"
            )
    changed = {name: value for name, value in values.items() if name not in RESUME_CHANGEABLE or name in given}
    merged = {**stored.to_dict(), "hidden": stored.hidden, **changed}
    for name in EXECUTION_FIELDS:
        if name not in changed and not applies(name, merged):
            merged[name] = default(name, stored.method)
    return TrainConfig(**merged).validate()


def progress_line(iteration: int, total: int, pre: float, post: float, env_steps: int, seconds: float) -> str:
    width = 24
    filled = width * iteration // max(total, 1)
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {iteration}/{total}  pre {pre:9.2f}  post {post:9.2f}  "
        f"steps {env_steps:,}  {seconds:.2f} s/it"
    )


def open_run_for_training(args: argparse.Namespace) -> tuple[RunStore, TrainConfig]:
    """The run folder of ``train --out``, locked for writing, and the config to train it with."""
    if not args.out.strip():
        raise ConfigError("out", args.out, "a folder path")
    given = given_config_values(args)
    values = given if args.preset is None else with_preset(args.preset, given)
    if args.resume:
        if args.force:
            raise ConfigError("force", True, "--resume continues a run, --force replaces it: give one of them")
        store = RunStore.open(args.out).writer()
        try:
            config = config_for_resume(store, values, given)
            check_probe_every(config, args.probe_every)
        except ConfigError:
            store.close()
            raise
        return store, config
    config = TrainConfig.from_given(values)
    check_probe_every(config, args.probe_every)
    return RunStore.create(args.out, config, force=args.force), config


class StopRequest:
    """Ctrl-C (SIGINT) while training: the first asks to stop once the iteration under way is saved, a
    second stops at once (KeyboardInterrupt).

    An interrupt raised at any moment could land inside JAX's own callbacks, which swallow it
    (training then ran on to the end), or end the process during a compilation.
    """

    def __init__(self):
        self.requested = False
        self.can_say = stderr_is_open()  # else fd 2 may later be another file, e.g. the run's lock

    def __call__(self, signal_number, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.can_say:  # os.write: a print here could interrupt a print under way
            with suppress(OSError):
                os.write(2, b"\nstopping after this iteration (Ctrl-C again to stop at once)\n")


def stderr_is_open() -> bool:
    try:
        os.fstat(2)
    except OSError:
        return False
    return True


@contextmanager
def deferred_interrupt() -> Iterator[StopRequest]:
    """A ``StopRequest`` handling SIGINT inside the block (in the main thread; elsewhere it is never set)."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = signal.signal(signal.SIGINT, request)
    try:
        yield request
    finally:
        signal.signal(signal.SIGINT, previous)


def command_train(args: argparse.Namespace) -> int:
    with deferred_interrupt() as stop:
        store, config = open_run_for_training(args)
        with store:
            trainer, warnings = store.restore_trainer(config)
            for warning in warnings:
                print(f"warning: {warning}", file=sys.stderr)
            if trainer.state.iteration >= config.iterations:
                trainer.close()
                print(
                    f"{args.out}: already at iteration {trainer.state.iteration} of {config.iterations}; nothing to do"
                )
                return 0
            if config != store.config():
                store.write_config(config)
            return train_with_progress(trainer, store, config, args, stop)


def train_with_progress(
    trainer, store: RunStore, config: TrainConfig, args: argparse.Namespace, stop: StopRequest
) -> int:
    """Train to ``config.iterations`` or until ``stop`` is requested, printing progress; the exit status of
    ``train``."""
    interactive = sys.stderr.isatty()
    report_every = max(1, config.iterations // 20)
    try:
        if stop.requested:  # asked while the run was being opened: no iteration started
            raise KeyboardInterrupt
        for result in run_training(trainer, store, config.iterations, args.probe_every):
            if not args.quiet:
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
            if stop.requested and trainer.state.iteration < config.iterations:  # saved: end as an interrupt does
                raise KeyboardInterrupt
    except DivergenceError as error:
        print(
            f"\nerror: iteration {error.iteration} produced NaN or inf; {store.path} keeps its last good "
            "checkpoint, which resuming would only repeat: start a new run with a smaller --lr or --alpha",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except WorkerError as error:
        print(
            f"\nerror: {error} at iteration {trainer.state.iteration + 1}; the last good checkpoint is kept in "
            f"{store.path}: continue with --resume",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except KeyboardInterrupt:
        if interactive and not args.quiet:
            print(file=sys.stderr)  # off the progress line
        print(f"interrupted at iteration {trainer.state.iteration}; continue with --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        trainer.close()
    if interactive and not args.quiet:
        print(file=sys.stderr)
    print(f"saved {store.path} at iteration {trainer.state.iteration}")
    return 0


def loaded_trainer(path: str):
    """``load_trainer`` with its warnings printed."""
    trainer, warnings = load_trainer(path)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return trainer


def command_eval(args: argparse.Namespace) -> int:
    check_task_count(args.tasks)
    trainer = loaded_trainer(args.run)
    with trainer:
        check_evaluation_tasks(trainer.config, args.tasks)
        outcome = trainer.evaluate(args.tasks, split=args.split, seed=args.seed)
    distinct = min(args.tasks, len(trainer.family.split_ids(args.split)))
    pre, post = outcome.pre_adaptation_returns, outcome.post_adaptation_returns
    summary = {
        "run": str(args.run),
        "iteration": trainer.state.iteration,
        "tasks": args.tasks,
        "distinct_tasks": distinct,
        "split": args.split,
        "pre_adaptation_return": float(pre.mean()),
        "pre_adaptation_std": float(pre.std()),
        "post_adaptation_return": float(post.mean()),
        "post_adaptation_std": float(post.std()),
    }
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"run {args.run}: {trainer.config.label()}, iteration {trainer.state.iteration}")
    print(f"pre-adaptation return:  {pre.mean():10.3f} ± {pre.std():.3f} over {args.tasks} {args.split} tasks")
    print(f"post-adaptation return: {post.mean():10.3f} ± {post.std():.3f} over {args.tasks} {args.split} tasks")
    if distinct < args.tasks:
        print(f"(the {args.split} split has {distinct} tasks: the {args.tasks} scored cycle through them)")
    return 0


def command_export(args: argparse.Namespace) -> int:
    check_task_count(args.tasks)
    if any(path.exists() for path in asset_paths(args.out)) and not args.force:
        raise ConfigError("out", args.out, "already holds an asset; choose another --out or add --force to replace it")
    store = RunStore.open(args.run)
    check_evaluation_tasks(store.config(), args.tasks)
    made_by = args.made_by or train_command(store.config(), args.run)
    meta = store.export(args.out, args.tasks, made_by)
    evaluation = meta["evaluation"]
    print(
        f"exported {args.out} (iteration {meta['iteration']}): over {args.tasks} test tasks, "
        f"pre {evaluation['pre_adaptation_return']:.3f}, post {evaluation['post_adaptation_return']:.3f}"
    )
    return 0


def command_render(args: argparse.Namespace) -> int:
    from esmaml_core.render import QUALITIES, render_replay_video  # MuJoCo rendering loads only here

    if Path(args.out).is_dir():
        raise ConfigError("out", args.out, "a path for the video file, e.g. replay.mp4, not a folder")
    trainer = loaded_trainer(args.run)
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
    # This process is the CLI's own: render headless unless the user chose a GL backend. MuJoCo
    # reads the variable when first imported, which the library does only on first use.
    os.environ.setdefault("MUJOCO_GL", "egl")
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as error:
        print(f"error: {flag(error.field)}: got {error.value!r}; {error.allowed}", file=sys.stderr)
    except RunExistsError as error:
        print(
            f"error: --out {error.path} already exists; pass --resume to continue it or --force to replace it",
            file=sys.stderr,
        )
    except (RunStoreError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
    except OSError as error:  # a path the user gave: a file where a folder should be, read-only, disk full
        where = error.filename if error.filename is not None else "a file"
        print(f"error: {where}: {error.strerror or error}", file=sys.stderr)
    return EXIT_USAGE
