"""The `lowcap` command line. Exit codes: 0 success, 2 bad input, 1 internal failure."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from pathlib import Path

import click

from lowcap import __version__
from lowcap.errors import LowcapError, UserInputError
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
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lowcap")
def cli() -> None:
    """lowcap: capacity, sparsity and robustness of small neural networks."""


@cli.command()
@click.option("--cache-dir", type=PATH, default=None,
              help="Cache folder (default $LOWCAP_CACHE_DIR or ~/.cache/lowcap).")
@click.option("--idx-dir", type=PATH, default=None,
              help="A folder with the four MNIST IDX files (.gz or not).")
@click.option("--no-download", is_flag=True, help="Do not try the download mirrors.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def data(cache_dir: Path | None, idx_dir: Path | None, no_download: bool, quiet: bool) -> None:
    """Prepare and verify MNIST; print the source used and the checksums."""
    from lowcap.data import sources
    from lowcap.data.mnist import load_mnist

    loaded = load_mnist(cache_dir=cache_dir, idx_dir=idx_dir,
                        mirrors=[] if no_download else None, progress=not quiet)
    m = loaded.mnist
    click.echo(f"source: {loaded.source}")
    click.echo(f"cache: {loaded.cache_file}")
    click.echo(f"train: {m.train_images.shape[0]} images, test: {m.test_images.shape[0]} images")
    click.echo(f"content sha256: {m.content_sha256()} (verified)")
    click.echo(f"registry wheel sha256: {sources.WHEEL_SHA256}")
    click.echo(f"mnist.pkl.gz sha256: {sources.PICKLE_SHA256}")


def _load(profile: str | None, config: Path | None):
    from lowcap.experiments.config import load_config, profile_path

    return load_config(config if config is not None else profile_path(profile or "paper"))


def _execute(cfg, out: Path, device: str, fresh: bool, quiet: bool, executor: str,
             train: bool = True, analyses: tuple[str, ...] | None = None,
             ray_address: str | None = None, ray_timeout: float = 30.0) -> None:
    from lowcap.experiments.analysis_phases import run_analyses
    from lowcap.experiments.phases import run_training
    from lowcap.experiments.rundir import check_run, open_run, resolve_device
    from lowcap.report.build import build_report

    if ray_address is not None and executor != "ray":
        raise UserInputError("--ray-address needs --executor ray")
    started = time.perf_counter()
    dev = resolve_device(device)
    check_run(out, cfg, dev, fresh)  # before a Ray cluster is joined or anything written
    remote = None
    if executor == "ray":
        from lowcap.experiments.distributed import RayExecutor

        remote = RayExecutor(ray_address, gpus=int(dev.type == "cuda"), timeout=ray_timeout)
    try:  # analyses use the executor too (RunContext.map): shut it down after them
        ctx = open_run(out, cfg, dev, fresh, quiet, repair=train)
        try:
            ctx.executor = remote
            seconds = run_training(ctx, cfg) if train else {}
            seconds.update(run_analyses(ctx, cfg, analyses))
            for phase, secs in seconds.items():
                click.echo(f"{phase}: {secs:.1f} s", err=True)
            summary = build_report(out, ctx.store, parallel=True)
        finally:
            ctx.close()
    finally:
        if remote is not None:
            remote.shutdown()
    click.echo(f"done in {time.perf_counter() - started:.1f} s "
               f"(stored compute {summary['seconds']['total']:.1f} s); "
               f"report: {out / 'report.html'}")


@cli.command()
@click.option("--profile", type=click.Choice(["paper", "paper-full", "quick", "smoke"]),
              default="paper",
              show_default=True, help="Which protocol size to run.")
@click.option("--config", type=PATH, default=None,
              help="A YAML config instead of a profile.")
@click.option("--out", type=PATH, default=None,
              help="Run directory (default runs/<profile>).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="Where training units run: here, or on a Ray cluster.")
@click.option("--ray-address", default=None,
              help="Address of a running Ray cluster (default: start a local Ray).")
@click.option("--ray-timeout", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Seconds to wait for the Ray cluster at --ray-address to answer.")
@_common_run_options
def reproduce(profile: str, config: Path | None, out: Path | None, executor: str,
              ray_address: str | None, ray_timeout: float, device: str, fresh: bool,
              quiet: bool) -> None:
    """Run every phase of the paper's protocol (resuming DIR), then write the report."""
    cfg = _load(profile, config)
    _execute(cfg, out or Path("runs") / cfg.profile, device, fresh, quiet, executor,
             ray_address=ray_address, ray_timeout=ray_timeout)


@cli.command()
@click.argument("config", type=PATH)
@click.option("--out", type=PATH, required=True, help="Run directory.")
@_common_run_options
def sweep(config: Path, out: Path, device: str, fresh: bool, quiet: bool) -> None:
    """Train the cohort a YAML config declares (tasks × widths × learning rates × seeds)."""
    cfg = _load(None, config)
    if cfg.sweep is None and cfg.capacity is None and cfg.lr_grid is None:
        raise UserInputError(f"{config}: declares nothing to train (add a 'sweep:' section)")
    _execute(cfg, out, device, fresh, quiet, "local")


def _run_config(directory: Path):
    """The config of the run in `directory`, which must be a run folder holding a store."""
    from lowcap.experiments.config import load_config
    from lowcap.experiments.run_folder import STORE_FILE, require_run_folder

    require_run_folder(directory)
    if not (directory / STORE_FILE).is_file():
        raise UserInputError(f"{directory}: the run has no results store yet; run "
                             f"`lowcap reproduce --config {directory / 'config.yaml'} --out "
                             f"{directory}` first")
    return load_config(directory / "config.yaml")


def _with_section(cfg, section: str, overrides: dict):
    """The config with `section` set (defaults first) and overridden; validated."""
    from lowcap.experiments.config import parse_config

    data = cfg.model_dump(mode="json")
    data[section] = {**(data.get(section) or {}),
                     **{k: v for k, v in overrides.items() if v is not None}}
    return parse_config(data, f"--{section} options")


def _names(text: str | None) -> list[str] | None:
    """A comma-separated option as a list (None when not given); the config validates it."""
    return text.split(",") if text else None


def _floats(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError as exc:
        raise UserInputError(f"{text!r}: expected comma-separated numbers") from exc


ANALYSIS_ARGS = [click.argument("directory", type=PATH),
                 click.option("--device", type=DEVICES, default="auto", show_default=True),
                 click.option("--quiet", is_flag=True, help="No progress bars.")]


def _analysis_command(func):
    for decorator in reversed(ANALYSIS_ARGS):
        func = decorator(func)
    return cli.command()(func)


@click.option("--levels", default=None, help="Comma-separated sparsities, e.g. 0.5,0.9,0.99.")
@click.option("--methods", default=None,
              help="Comma-separated: layerwise, global, random.")
@_analysis_command
def prune(directory: Path, device: str, quiet: bool, levels: str | None,
          methods: str | None) -> None:
    """One-shot pruning of a run's capacity models (§4.3), into its store; rebuilds the report."""
    cfg = _with_section(_run_config(directory), "pruning", {
        "levels": _floats(levels), "methods": _names(methods)})
    _execute(cfg, directory, device, False, quiet, "local", train=False, analyses=("pruning",))


@click.option("--level", type=float, default=None, help="Pruning level to compare (0.95).")
@_analysis_command
def neurons(directory: Path, device: str, quiet: bool, level: float | None) -> None:
    """Dead hidden units before and after pruning (§4.4, Table 1); rebuilds the report."""
    cfg = _with_section(_run_config(directory), "dead_neurons", {"level": level})
    _execute(cfg, directory, device, False, quiet, "local", train=False,
             analyses=("dead_neurons",))


@click.option("--pair", default=None, help="Digit pair, e.g. 4-9.")
@click.option("--hidden", type=int, default=None, help="Width of the model to embed.")
@click.option("--max-points", type=int, default=None, help="Validation points to embed.")
@_analysis_command
def tsne(directory: Path, device: str, quiet: bool, pair: str | None, hidden: int | None,
         max_points: int | None) -> None:
    """t-SNE of hidden activations before and after pruning (§4.5); rebuilds the report."""
    cfg = _with_section(_run_config(directory), "tsne", {
        "pair": pair, "hidden": hidden, "max_points": max_points})
    _execute(cfg, directory, device, False, quiet, "local", train=False, analyses=("tsne",))


@click.option("--pair", default=None, help="Digit pair, e.g. 4-9.")
@click.option("--widths", default=None, help="Comma-separated widths, e.g. 24,48,64.")
@click.option("--sigmas", default=None, help="Comma-separated Gaussian noise levels.")
@_analysis_command
def robustness(directory: Path, device: str, quiet: bool, pair: str | None,
               widths: str | None, sigmas: str | None) -> None:
    """Gaussian noise, occlusion and MNIST-C-style corruptions (§4.6); rebuilds the report."""
    parsed = _floats(widths)
    cfg = _with_section(_run_config(directory), "robustness", {
        "pair": pair, "widths": [int(w) for w in parsed] if parsed else None,
        "sigmas": _floats(sigmas)})
    _execute(cfg, directory, device, False, quiet, "local", train=False,
             analyses=("robustness",))


@click.option("--pair", default=None, help="Digit pair, e.g. 4-9.")
@click.option("--hidden", type=int, default=None, help="Width of the model to explain.")
@click.option("--epsilon", type=float, default=None, help="Finite-difference step (0.01).")
@_analysis_command
def saliency(directory: Path, device: str, quiet: bool, pair: str | None, hidden: int | None,
             epsilon: float | None) -> None:
    """Saliency maps, dense vs pruned agreement (§4.7); rebuilds the report."""
    cfg = _with_section(_run_config(directory), "saliency", {
        "pair": pair, "hidden": hidden, "epsilon": epsilon})
    _execute(cfg, directory, device, False, quiet, "local", train=False, analyses=("saliency",))


@click.option("--pairs", default=None, help="Comma-separated digit pairs, e.g. 4-9,3-8.")
@click.option("--widths", default=None, help="Comma-separated widths of the variant models.")
@_analysis_command
def sensitivity(directory: Path, device: str, quiet: bool, pairs: str | None,
                widths: str | None) -> None:
    """Jacobian sensitivity vs generalization (companion paper A): trains the factor variants
    the study needs, measures every model; rebuilds the report."""
    parsed = _floats(widths)
    cfg = _with_section(_run_config(directory), "sensitivity", {
        "pairs": _names(pairs), "widths": [int(w) for w in parsed] if parsed else None})
    protocol = cfg.sensitivity.protocol
    if cfg.capacity is None or protocol not in {p.name for p in cfg.protocols}:
        raise UserInputError(f"{directory}: the sensitivity study measures the capacity sweep of "
                             f"the {protocol!r} protocol, which this run does not have")
    _execute(cfg, directory, device, False, quiet, "local", train=False,
             analyses=("sensitivity",))


@click.option("--datasets", default=None, help="Comma-separated: synthetic, mnist.")
@click.option("--steps", type=int, default=None, help="Training steps per run (300).")
@_analysis_command
def narrow(directory: Path, device: str, quiet: bool, datasets: str | None,
           steps: int | None) -> None:
    """Narrow networks trained by projected gradient methods (companion paper B); rebuilds the
    report."""
    cfg = _with_section(_run_config(directory), "narrow", {
        "datasets": _names(datasets), "steps": steps})
    _execute(cfg, directory, device, False, quiet, "local", train=False, analyses=("narrow",))


@cli.command()
@click.argument("directory", type=PATH)
def report(directory: Path) -> None:
    """Rebuild report.html and summary.json from the store in DIRECTORY alone."""
    from lowcap.report.build import build_report

    build_report(directory, parallel=True)
    click.echo(f"report: {directory / 'report.html'}")


def _one_line(text: object) -> str:
    """`text` with control characters (a newline inside a value, say) escaped: every error
    is one line."""
    return re.sub(r"[\x00-\x1f\x7f\x85\u2028\u2029]", lambda m: repr(m.group())[1:-1],
                  str(text).strip())


def _crash_log(exc: BaseException) -> str:
    """Write the traceback of an internal failure to a log file; its path, or why not."""
    import traceback

    from lowcap.data.mnist import default_cache_dir

    folder = default_cache_dir() / "logs"
    path = folder / f"lowcap-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(f"lowcap {__version__}: {' '.join(sys.argv)}\n"
                        + "".join(traceback.format_exception(exc)), encoding="utf-8")
    except OSError as err:
        return f"no log written: {err.strerror}"
    return f"details in {path}"


def main() -> None:
    """Entry point: map lowcap's errors to exit codes with a one-line reason (0 success, 2 bad
    input, 1 internal failure with the path of a log holding the details)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    keep_freed_memory()
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
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
    except KeyboardInterrupt:
        click.echo("interrupted: run the same command again to resume", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: one line here, the traceback in the log
        first = (str(exc).strip().split("\n") or [""])[0]
        click.echo(f"error: internal failure ({type(exc).__name__}: {_one_line(first)}); "
                   f"{_crash_log(exc)}", err=True)
        sys.exit(1)
