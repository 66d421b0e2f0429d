"""The `lowcap` command line. Exit codes: 0 success, 2 bad input, 1 internal failure."""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import time
from pathlib import Path

import click

from lowcap import __version__
from lowcap.errors import LowcapError, UserInputError
from lowcap.parsing import Number
from lowcap.training.malloc import keep_freed_memory

DEVICES = click.Choice(["auto", "cpu", "cuda"])


class _UserPath(click.Path):
    """A path as the user means it: `~` expanded (also when the shell did not), and a NUL
    byte, which no file system takes, refused with the usual exit 2."""

    def convert(self, value, param, ctx):
        if "\0" in str(value):
            self.fail(f"{value!r} contains a NUL byte", param, ctx)
        return Path(super().convert(value, param, ctx)).expanduser()


PATH = _UserPath(path_type=Path)


def _common_run_options(func):
    func = click.option("--device", type=DEVICES, default="auto", show_default=True,
                        help="Where to train and analyse.")(func)
    func = click.option("--fresh", is_flag=True,
                        help="Delete what lowcap wrote in the run folder and start over "
                             "(only a lowcap run folder; your own files there stay).")(func)
    func = click.option("--quiet", is_flag=True, help="No progress bars.")(func)
    func = click.option("--no-report", is_flag=True,
                        help="Store the results without writing the report (write it later "
                             "with `lowcap report DIR`).")(func)
    return func


def _run_config(directory: Path):
    """The config of the run in `directory` (a run folder holding a store), as its store holds
    it; its config.yaml must still say the same (an edit there would silently change which
    models the report shows)."""
    from lowcap.run.run_folder import STORE_FILE, require_run_folder
    from lowcap.run.store import Store
    from lowcap.studies.registry import load_config, stored_config

    require_run_folder(directory)
    if not (directory / STORE_FILE).is_file():
        raise UserInputError(f"{directory}: the run has no results store yet; run "
                             f"`lowcap reproduce --config {directory / 'config.yaml'} --out "
                             f"{directory}` first")
    store = Store(directory / STORE_FILE, read_only=True)
    try:
        cfg = stored_config(store)
    finally:
        store.close()
    path = directory / "config.yaml"
    edited = _first_difference(load_config(path).model_dump(mode="json"),
                               cfg.model_dump(mode="json"))
    if edited is not None:
        raise UserInputError(
            f"{path}: edited since the run wrote it ({edited}); analysis commands work on the "
            "protocol the run holds: put the file back, or apply the change with `lowcap "
            f"reproduce --config {path} --out {directory}` (finished models are reused)")
    return cfg


def _first_difference(a, b, path: str = "") -> str | None:
    """The first place where two config dumps differ, as 'key.sub: a (run: b)'; None if equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            found = _first_difference(a.get(key), b.get(key), f"{path}.{key}" if path else key)
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return next((found for i, (x, y) in enumerate(zip(a, b, strict=True))
                     if (found := _first_difference(x, y, f"{path}[{i}]")) is not None), None)
    return None if a == b else f"{path}: {a!r} (run: {b!r})"


def _with_section(cfg, section: str, overrides: dict):
    """The config with `section` set (defaults first) and overridden (an override that is a
    mapping, like `select`, changes only the fields it names); validated."""
    from lowcap.studies.registry import parse_config

    data = cfg.model_dump(mode="json")
    current = data.get(section) or {}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(current.get(key), dict):
            value = {**current[key], **value}
        if value is not None:
            current[key] = value
    data[section] = current
    return parse_config(data, f"--{section} options")


# `select:` field → (the type of its comma-separated values, or None for one name; help).
SELECT_OPTIONS = {
    "study": (None, "Read the models of this training study (a config section that trains "
                    "models)."),
    "protocols": (str, "Only these protocols, e.g. corrected."),
    "pairs": (str, "Only these digit pairs, e.g. 2-7,4-9."),
    "widths": (int, "Only these widths, e.g. 8,24."),
    "learning_rates": (float, "Only these learning rates, e.g. 0.01,0.03."),
    "seeds": (int, "Only these seeds, e.g. 0,1."),
}


def _analysis_command(study) -> click.Command:
    """`lowcap <command> DIR [options]`: the study's compute on an existing run (after
    training the models its section declares, if it declares any), with its config section
    overridden by the options; rebuilds the report."""
    spec = study.command

    def run(directory: Path, device: str, quiet: bool, no_report: bool, **options) -> None:
        from lowcap.studies.base import comma

        select = {}
        for field, (kind, _) in SELECT_OPTIONS.items():
            text = options.pop(f"select_{field}", None)
            select[field] = text if kind is None else comma(text, kind)
        cfg = _run_config(directory)
        overrides = spec.overrides(**options)
        if any(v is not None for v in select.values()):
            overrides["select"] = {k: v for k, v in select.items() if v}
        cfg = _with_section(cfg, study.name, overrides)
        if spec.check is not None:
            spec.check(cfg, directory)
        # A study whose section declares models (its `plans`) trains them into the run
        # first; the run's finished models are kept as they are.
        _execute(cfg, directory, device, False, quiet, "local", train=study.plans is not None,
                 analyses=(study.name,), report=not no_report)

    params = [click.argument("directory", type=PATH),
              click.option("--device", type=DEVICES, default="auto", show_default=True),
              click.option("--quiet", is_flag=True, help="No progress bars."),
              click.option("--no-report", is_flag=True,
                           help="Store the results without rebuilding the report (several "
                                "analyses in a row, then one `lowcap report DIR`)."),
              *spec.options]
    if study.selection is not None:  # every analysis of trained models takes a selection
        params += [click.option(f"--select-{field.replace('_', '-')}", f"select_{field}",
                                default=None, help=text)
                   for field, (_, text) in SELECT_OPTIONS.items()]
    for decorator in reversed(params):
        run = decorator(run)
    return click.command(spec.name, help=spec.help)(run)


def _train_command(study) -> click.Command:
    """`lowcap <command> CONFIG --out DIR`: train what a YAML config declares, run its
    analyses, write the report."""

    @click.command(study.command.name, help=study.command.help)
    @click.argument("config", type=PATH)
    @click.option("--out", type=PATH, required=True, help="Run directory.")
    @click.option("--seeds", type=Number(int, minimum=1), default=None,
                  help="Train seeds 0 … N−1 under every protocol instead of the config's "
                       "(more seeds extend a finished run: its models are reused).")
    @_common_run_options
    def run(config: Path, out: Path, seeds: int | None, device: str, fresh: bool,
            quiet: bool, no_report: bool) -> None:
        from lowcap.studies.registry import studies
        from lowcap.studies.schedule import training_groups

        cfg = _load(None, config)
        if seeds is not None:
            cfg = with_seeds(cfg, seeds)
        if not any(training_groups(cfg)):
            trainers = ", ".join(f"'{s.name}:'" for s in studies() if s.plans is not None)
            raise UserInputError(f"{config}: declares nothing to train (add a section that "
                                 f"trains models: {trainers})")
        _execute(cfg, out, device, fresh, quiet, "local", report=not no_report)

    return run


def with_seeds(cfg, seeds: int):
    """`cfg` with every protocol training seeds 0 … seeds−1 (validated like a config file)."""
    data = cfg.model_dump(mode="json")
    for protocol in data["protocols"]:
        protocol["seeds"] = list(range(seeds))
    return type(cfg).model_validate(data)


class _StudyCommands(click.Group):
    """The `lowcap` group: its own commands plus one per registered study that has one,
    looked up in the registry when asked (a study registered later appears too)."""

    def _study_commands(self) -> dict[str, click.Command]:
        from lowcap.studies.registry import studies

        return {s.command.name: (_train_command(s) if s.command.kind == "train"
                                 else _analysis_command(s))
                for s in studies() if s.command is not None}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *self._study_commands()]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or self._study_commands().get(name)


@click.group(cls=_StudyCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lowcap")
def cli() -> None:
    """lowcap: the science of small neural networks."""


@cli.command()
@click.option("--cache-dir", type=PATH, default=None,
              help="Cache folder (default $LOWCAP_CACHE_DIR or ~/.cache/lowcap).")
@click.option("--idx-dir", type=PATH, default=None,
              help="A folder with the four IDX files (MNIST: .gz or not; fashion_mnist, "
                   "kmnist: the published .gz files).")
@click.option("--no-download", is_flag=True, help="Do not try the download mirrors.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--dataset", default="mnist", show_default=True,
              help="Which dataset: mnist, fashion_mnist, kmnist, digits, mnist1d or "
                   "mnist_pca.")
def data(cache_dir: Path | None, idx_dir: Path | None, no_download: bool, quiet: bool,
         dataset: str) -> None:
    """Prepare and verify a dataset (MNIST by default); print the source used and checks."""
    from lowcap.data import sources
    from lowcap.data.loading import load_mnist

    if dataset != "mnist":
        from lowcap.data.catalog import load_dataset

        dirs = {dataset: idx_dir} if idx_dir is not None else {}
        loaded_data, source = load_dataset(dataset, dirs, progress=not quiet)
        click.echo(f"source: {source}")
        click.echo(f"train: {len(loaded_data.train_labels)} inputs, test: "
                   f"{len(loaded_data.test_labels)} inputs of shape {loaded_data.facts.shape} "
                   "(verified)")
        return

    loaded = load_mnist(cache_dir=cache_dir, idx_dir=idx_dir,
                        mirrors=[] if no_download else None, progress=not quiet)
    m = loaded.mnist
    click.echo(f"source: {loaded.source}")
    click.echo(f"cache: {loaded.cache_file}")
    click.echo(f"train: {m.train_images.shape[0]} images, test: {m.test_images.shape[0]} images")
    click.echo(f"content sha256: {m.content_sha256()} (verified)")
    click.echo(f"registry wheel sha256: {sources.WHEEL_SHA256}")
    click.echo(f"mnist.pkl.gz sha256: {sources.PICKLE_SHA256}")


def _profiles() -> list[str]:
    """The shipped profiles: the YAML files in configs/."""
    from lowcap.run.config import configs_dir

    return sorted(p.stem for p in configs_dir().glob("*.yaml"))


def _load(profile: str | None, config: Path | None):
    from lowcap.run.config import profile_path
    from lowcap.studies.registry import load_config

    return load_config(config if config is not None else profile_path(profile or "paper"))


def _execute(cfg, out: Path, device: str, fresh: bool, quiet: bool, executor: str,
             train: bool = True, analyses: tuple[str, ...] | None = None,
             ray_address: str | None = None, ray_timeout: float = 30.0,
             report: bool = True) -> None:
    from lowcap.report.build import build_report
    from lowcap.run.rundir import check_run, open_run, resolve_device
    from lowcap.studies.schedule import (
        check_selections,
        every_training_group,
        run_analyses,
        run_training,
    )

    if ray_address is not None and executor != "ray":
        raise UserInputError("--ray-address needs --executor ray")
    started = time.perf_counter()
    dev = resolve_device(device)
    # Before a Ray cluster is joined or anything is written.
    check_selections(cfg, analyses)
    groups = list(every_training_group(cfg))
    check_run(out, groups, dev, fresh)
    remote = None
    if executor == "ray":
        from lowcap.run.distributed import RayExecutor

        remote = RayExecutor(ray_address, gpus=int(dev.type == "cuda"), timeout=ray_timeout)
        on_signals()  # ray.init installs its own handlers
    try:  # analyses use the executor too (RunContext.map): shut it down after them
        ctx = open_run(out, cfg, dev, fresh, quiet, repair=train,
                       plans=[plan for _, _, plans in groups for plan in plans])
        try:
            ctx.executor = remote
            seconds = run_training(ctx, cfg) if train else {}
            seconds.update(run_analyses(ctx, cfg, analyses))
            for phase, secs in seconds.items():
                click.echo(f"{phase}: {secs:.1f} s", err=True)
            summary = build_report(out, ctx.store, parallel=True) if report else None
        finally:
            ctx.close()
    finally:
        if remote is not None:
            remote.shutdown()
    if summary is None:
        click.echo(f"done in {time.perf_counter() - started:.1f} s; stored in {out}; the "
                   f"report was not rebuilt: run `lowcap report {out}` when you want it")
        return
    click.echo(f"done in {time.perf_counter() - started:.1f} s "
               f"(stored compute {summary['seconds']['total']:.1f} s); "
               f"report: {out / 'report.html'}")


@cli.command()
@click.option("--profile", type=click.Choice(_profiles()), default="paper",
              show_default=True, help="Which protocol size to run.")
@click.option("--config", type=PATH, default=None,
              help="A YAML config instead of a profile.")
@click.option("--out", type=PATH, default=None,
              help="Run directory (default runs/<profile>).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="Where training units run: here, or on a Ray cluster.")
@click.option("--ray-address", default=None,
              help="Address of a running Ray cluster (default: start a local Ray).")
@click.option("--ray-timeout", type=Number(float, minimum=1), default=30.0, show_default=True,
              help="Seconds to wait for the Ray cluster at --ray-address to answer.")
@_common_run_options
def reproduce(profile: str, config: Path | None, out: Path | None, executor: str,
              ray_address: str | None, ray_timeout: float, device: str, fresh: bool,
              quiet: bool, no_report: bool) -> None:
    """Run every study of a profile or config (resuming DIR), then write the report."""
    cfg = _load(profile, config)
    _execute(cfg, out or Path("runs") / cfg.profile, device, fresh, quiet, executor,
             ray_address=ray_address, ray_timeout=ray_timeout, report=not no_report)


@cli.command()
@click.argument("source", required=False)
@click.option("--schema", is_flag=True,
              help="Print the reference of every section and field instead (docs/config.md).")
def config(source: str | None, schema: bool) -> None:
    """Print the resolved config of a profile (paper, paper-full, quick, smoke) or a YAML file,
    every default written out; with --schema, the config reference."""
    if schema:
        from lowcap.studies.reference import config_reference

        click.echo(config_reference(), nl=False)
        return
    if source is None:
        raise UserInputError("lowcap config: name a profile (e.g. paper) or a YAML file, or "
                             "pass --schema")
    path = Path(source).expanduser()
    cfg = _load(None, path) if path.suffix in (".yaml", ".yml") else _load(source, None)
    click.echo(cfg.to_yaml(), nl=False)


@cli.command()
@click.argument("directory", type=PATH)
def report(directory: Path) -> None:
    """Rebuild report.html and summary.json from the store in DIRECTORY alone."""
    from lowcap.report.build import build_report
    from lowcap.run.run_folder import RunLock, require_run_folder

    require_run_folder(directory)
    lock = RunLock(directory)  # it writes the report: one writer at a time
    try:
        build_report(directory, parallel=True)
    finally:
        lock.release()
    click.echo(f"report: {directory / 'report.html'}")


def _one_line(text: object) -> str:
    """`text` with control characters (a newline inside a value, say) escaped: every error
    is one line."""
    return re.sub(r"[\x00-\x1f\x7f\x85\u2028\u2029]", lambda m: repr(m.group())[1:-1],
                  str(text).strip())


def _crash_log(exc: BaseException) -> str:
    """Write the traceback of an internal failure to a log file; its path, or why not."""
    import traceback

    from lowcap.data.loading import default_cache_dir

    folder = default_cache_dir() / "logs"
    path = folder / f"lowcap-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(f"lowcap {__version__}: {' '.join(sys.argv)}\n"
                        + "".join(traceback.format_exception(exc)), encoding="utf-8")
    except OSError as err:
        return f"no log written: {err.strerror}"
    return f"details in {path}"


class Signalled(BaseException):
    """Ctrl-C (SIGINT) or SIGTERM, raised in the main thread so that the run unwinds (locks
    released, nothing half-written) and exits with one line and 128 + the signal's number.
    Not a KeyboardInterrupt: click would print a blank line and turn that into an abort."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_signalled(signum: int, frame: object) -> None:
    raise Signalled(signum)


def on_signals() -> None:
    """Make Ctrl-C and SIGTERM end the command with one line (exit 130 and 143). Called at
    start-up and again after anything that installs its own handlers (Ray's driver does)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_signalled)


def main() -> None:
    """Entry point: map lowcap's errors to exit codes with a one-line reason (0 success, 2 bad
    input, 1 internal failure with the path of a log holding the details, 130 on Ctrl-C and
    143 on SIGTERM, both with the same advice: run the same command again to resume)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    # Where the home folder is not writable, matplotlib makes a temporary cache and warns on
    # every start; the warning says nothing about lowcap's work.
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    keep_freed_memory()
    on_signals()
    try:
        cli.main(standalone_mode=False, prog_name="lowcap")
    except (Signalled, click.exceptions.Abort, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Signalled) else signal.SIGINT
        word = "terminated" if signum == signal.SIGTERM else "interrupted"
        click.echo(f"{word}: run the same command again to resume", err=True)
        sys.exit(128 + signum)
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `lowcap`: the help, as written
        click.echo(exc.ctx.get_help(), err=True)
        sys.exit(exc.exit_code)
    except click.UsageError as exc:  # one line, like every other bad input
        where = exc.ctx.command_path if exc.ctx is not None else "lowcap"
        click.echo(f"error: {_one_line(exc.format_message())} (see `{where} --help`)",
                   err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except UserInputError as exc:
        click.echo(f"error: {_one_line(exc)}", err=True)
        sys.exit(2)
    except LowcapError as exc:
        click.echo(f"error: {_one_line(exc)} ({_crash_log(exc)})", err=True)
        sys.exit(1)
    except Exception as exc:  # a bug: one line here, the traceback in the log
        first = (str(exc).strip().split("\n") or [""])[0]
        click.echo(f"error: internal failure ({type(exc).__name__}: {_one_line(first)}); "
                   f"{_crash_log(exc)}", err=True)
        sys.exit(1)
