"""What a training run produced and what to do next: the summary ``hadml train`` prints at
the end, and the plot of the validation metrics over epochs written beside the logs.

Reads only the run's files (the CSV log, the checkpoint), so it needs neither torch nor a
trainer; matplotlib is optional (without it the summary says why there is no plot).
"""

from __future__ import annotations

import csv
import shlex
from dataclasses import dataclass, field
from pathlib import Path

VAL_PREFIX = "val/"
PLOT_NAME = "validation.png"
METRICS_CSV = "metrics.csv"  # Lightning's CSVLogger
#: Events and output of the suggested generate command.
GENERATE_EVENTS = 10_000
GENERATE_OUT = "events.hepmc"


@dataclass
class ValidationHistory:
    """Validation metrics per validated epoch, from the run's metrics.csv."""

    epochs: list[int] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)  # without "val/"

    def at_epoch(self, epoch: int) -> dict[str, float]:
        if epoch not in self.epochs:
            return {}
        i = self.epochs.index(epoch)
        return {k: v[i] for k, v in self.metrics.items()}


def read_validation_history(metrics_csv: str | Path) -> ValidationHistory:
    """The ``val/*`` columns of a CSVLogger file, one entry per epoch that was validated."""
    history = ValidationHistory()
    path = Path(metrics_csv)
    if not path.is_file():
        return history
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    names = [k for k in (rows[0] if rows else {}) if k.startswith(VAL_PREFIX)]
    for row in rows:
        if not any(row.get(k) for k in names):
            continue  # a training-step row
        history.epochs.append(int(row["epoch"]))
        for k in names:
            value = float(row[k]) if row.get(k) else float("nan")
            history.metrics.setdefault(k[len(VAL_PREFIX):], []).append(value)
    return history


def plot_validation(history: ValidationHistory, path: str | Path, monitor: str,
                    best_epoch: int | None) -> Path:
    """Validation metrics against epoch: Wasserstein distances and chi2/ndf in two panels
    (log scale), the monitored one drawn thick, the best epoch marked. Raises ImportError
    without matplotlib."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state

    monitored = monitor.removeprefix(VAL_PREFIX)
    groups = {
        "Wasserstein distance": [k for k in history.metrics if k.startswith("w_")],
        "chi2 / ndf": [k for k in history.metrics if k.startswith("chi2_")],
    }
    other = [k for k in history.metrics if not any(k in g for g in groups.values())]
    if other:
        groups["other"] = other
    groups = {title: keys for title, keys in groups.items() if keys}
    fig = Figure(figsize=(7.0, 2.6 * max(len(groups), 1)), layout="constrained")
    axes = fig.subplots(max(len(groups), 1), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (title, keys) in zip(axes, groups.items(), strict=False):
        for key in keys:
            values = history.metrics[key]
            ax.plot(history.epochs, values, marker="o", markersize=3,
                    lw=2.5 if key == monitored else 1.0, label=key)
        if all(v > 0 for key in keys for v in history.metrics[key]):
            ax.set_yscale("log")
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", ls="--", lw=1)
        ax.set_ylabel(title)
        ax.legend(fontsize="small", ncols=2)
    axes[0].set_title(f"validation metrics; best epoch {best_epoch} on {monitor} (dashed)")
    axes[-1].set_xlabel("epoch")
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path


def _shown(path: str | Path) -> str:
    """A path as the user can paste it from here: relative below the current folder."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


@dataclass
class TrainingSummary:
    """Where a run's results are and the commands that use them."""

    log_dir: Path
    monitor: str
    epochs_run: int
    best_checkpoint: Path | None = None
    last_checkpoint: Path | None = None
    best_epoch: int | None = None
    best_value: float | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)  # val metrics, best epoch
    model: Path | None = None  # the ONNX file: written (exported) or to write
    exported: bool = False
    plot: Path | None = None
    plot_note: str = ""  # why there is no plot

    def export_command(self) -> str | None:
        if self.best_checkpoint is None or self.model is None:
            return None
        return (f"hadml export {shlex.quote(_shown(self.best_checkpoint))} "
                f"-o {shlex.quote(_shown(self.model))}")

    def generate_command(self) -> str | None:
        if self.model is None:
            return None
        return (f"hadml generate -n {GENERATE_EVENTS} --hadronization ml "
                f"--model {shlex.quote(_shown(self.model))} --out {GENERATE_OUT}")

    def text(self) -> str:
        epochs = f"{self.epochs_run} epoch" + ("" if self.epochs_run == 1 else "s")
        lines = [f"training finished after {epochs}; run folder {_shown(self.log_dir)}"]
        if self.best_checkpoint is None:
            lines.append(f"  no best checkpoint: {self.monitor} was never validated "
                         "(val_every_n_epochs > max_epochs?)")
        else:
            lines.append(f"  best checkpoint : {_shown(self.best_checkpoint)} "
                         f"(epoch {self.best_epoch})")
            lines.append(f"  best {self.monitor} = {self.best_value:.4g} (the monitor)")
            rest = {k: v for k, v in sorted(self.best_metrics.items())
                    if VAL_PREFIX + k != self.monitor}
            if rest:
                lines.append("  at that epoch  : "
                             + ", ".join(f"{k}={v:.4g}" for k, v in rest.items()))
        if self.last_checkpoint is not None:
            lines.append(f"  last checkpoint: {_shown(self.last_checkpoint)} (--resume)")
        lines.append(f"  logs           : {_shown(self.log_dir / METRICS_CSV)}; "
                     f"tensorboard --logdir {shlex.quote(_shown(self.log_dir))}")
        lines.append(f"  plot           : {_shown(self.plot)}" if self.plot is not None
                     else f"  plot           : none ({self.plot_note})")
        export, generate = self.export_command(), self.generate_command()
        if self.exported and self.model is not None:
            lines.append(f"  exported model : {_shown(self.model)}")
        if export is not None or generate is not None:
            lines.append("next:")
        if export is not None and not self.exported:
            lines.append(f"  {export}")
        if generate is not None:
            lines.append(f"  {generate}")
        return "\n".join(lines)


def summarize(log_dir: str | Path, monitor: str, epochs_run: int,
              best_checkpoint: str | Path | None, best_epoch: int | None,
              best_value: float | None, last_checkpoint: str | Path | None = None,
              exported: str | Path | None = None, model_name: str = "model") -> TrainingSummary:
    """Build the summary of a finished run and write the validation plot into ``log_dir``.

    ``exported``: the ONNX file training already wrote; otherwise the suggested export
    target is ``log_dir/<model_name>.onnx``."""
    log_dir = Path(log_dir)
    history = read_validation_history(log_dir / METRICS_CSV)
    best = Path(best_checkpoint) if best_checkpoint else None
    model = Path(exported) if exported else (log_dir / f"{model_name}.onnx" if best else None)
    summary = TrainingSummary(
        log_dir=log_dir, monitor=monitor, epochs_run=epochs_run, best_checkpoint=best,
        last_checkpoint=Path(last_checkpoint) if last_checkpoint else None,
        best_epoch=best_epoch, best_value=best_value,
        best_metrics=history.at_epoch(best_epoch) if best_epoch is not None else {},
        model=model, exported=exported is not None,
    )
    if not history.epochs:
        summary.plot_note = "no validation epochs were logged"
    else:
        try:
            summary.plot = plot_validation(history, log_dir / PLOT_NAME, monitor, best_epoch)
        except ImportError:
            summary.plot_note = "matplotlib is not installed: pip install matplotlib"
    return summary
