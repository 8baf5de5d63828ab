"""What the pages read of a run, whether this server trains it now or the store keeps it: one interface.

A run the pages draw is a `RunView`: a live `core.runs.jobs.Job` while this server trains it, then a
`core.runs.book.StoredRun` read from the store. Each kind sets the attributes declared below in its own way
(the job as its trainer's messages arrive, the stored run from its row); what follows from them - the latest
evaluation, the seconds left, the run on a page's own data - is computed here, once, for both.
"""

from __future__ import annotations

import torch

from core.lessons.lr_finder import Sweep
from core.train import Finished, Progress, Run, RunConfig, Started


class RunView:
    """A live or stored run, as the pages read it. `run` is the run as training left it (`core.train.Run`: its
    data and model), None without weights or data; `state` is "queued", "starting", "running" or "done"."""

    id: int
    owner: str
    label: str
    task: str  # "train" or "find_lr"
    group: str
    created: float
    config: RunConfig
    started: Started | None
    outcome: Finished | None
    error: str | None
    sweep: Sweep | None

    # each kind's own, as an attribute or a property
    state: str
    history: list[Progress]
    model: torch.nn.Module | None
    run: Run | None
    classes: tuple[str, ...]
    feature_names: tuple[str, ...]

    def stop(self) -> None:
        raise NotImplementedError

    def wait(self, timeout: float | None = None) -> bool:
        raise NotImplementedError

    # --- what follows from them, for both kinds -------------------------------------------------

    @property
    def last_eval(self) -> Progress | None:
        return next((p for p in reversed(self.history) if p.val_loss is not None), None)

    @property
    def seconds_left(self) -> float | None:
        history = self.history
        return history[-1].seconds_left if history else None

    def run_on(self, data) -> Run | None:
        """The run with `data` for its own (a user's table or photos, which only their page holds), if the data has
        the classes and features it trained on; None otherwise, or without a model."""
        fits = (tuple(data.classes), tuple(data.feature_names)) == (self.classes, self.feature_names)
        model = self.model
        if model is None or not fits:
            return None
        return Run(self.config, torch.device("cpu"), data, model, self.history, self.outcome)
