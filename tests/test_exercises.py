"""The chapters' exercises (core.lessons.exercises): the inventory is whole, each runnable setup produces the phenomenon
its question asks about, a run that answers is recognised and one that does not is not, and progress lasts in the
store. The runs are real: linear regression on d2l's synthetic data, softmax and the MLP on real Fashion-MNIST.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path

import pytest
from test_store import url

from core.lessons.exercises import (
    BY_ID,
    DEMO_IDS,
    DERIVATION,
    INVENTORY,
    OVERFIT_RISE,
    READ_IDS,
    RUNNABLE,
    Progress,
    by_definition,
    of_page,
    overfitting,
    zero_init_linear,
)
from core.runs.store import Store
from core.train import RunConfig, fit, start

ROOT = Path(__file__).resolve().parent.parent
SEED_002 = {"3.1": 3, "3.2": 7, "3.3": 3, "3.4": 5, "3.5": 4, "3.6": 5, "3.7": 2}  # its seven Exercises sections


class Trained:
    """A finished run as the pages hand them over (a Job or a StoredRun): config, history, outcome, state."""

    def __init__(self, config: RunConfig, data=None, run_id: int = 1):
        run = start(config, data)
        for event in fit(run):
            self.outcome = event
        self.config, self.history, self.state, self.error, self.id = config, run.history, "done", None, run_id
        self.label = f"{config.model} #{run_id}"


def test_every_exercise_of_seed_002_is_listed_once_and_classified():
    ids = [e.id for e in INVENTORY]
    assert len(ids) == len(set(ids))
    for section, count in SEED_002.items():
        listed = sorted(e.id for e in INVENTORY if e.id.rsplit(".", 1)[0] == section)
        assert listed == [f"{section}.{n}" for n in range(1, count + 1)], section
    assert all(e.kind in (RUNNABLE, DERIVATION, "outside") for e in INVENTORY)


def test_each_runnable_exercise_is_on_a_page_with_a_check_and_its_setup_names_that_pages_controls():
    demos = {*sum(DEMO_IDS.values(), ()), *READ_IDS, "3.6.3", "4.4.1", "4.4.2"}
    sources = "".join(p.read_text() for p in [*(ROOT / "ui").glob("*.py"), *(ROOT / "pages").glob("*.py")])
    keys = set(re.findall(r'key="([\w-]+)"', sources))
    for e in INVENTORY:
        if e.kind != RUNNABLE:
            assert e.check is None and not e.setup, e.id
            continue
        assert e.page and (ROOT / "pages" / f"{e.page}.py").exists(), e.id
        assert e.check is not None or e.id in demos, f"{e.id} has nothing that recognises its answer"
        assert set(e.setup) <= keys, f"{e.id} sets up controls the pages do not have: {set(e.setup) - keys}"
        assert e.explanation, e.id


def test_linear_regression_from_w_0_still_reaches_the_true_w_and_b_and_is_recognised():
    """3.2.1: the squared loss is convex in (w, b), so a start at 0 ends at the one minimum."""
    setup = BY_ID["3.2.1"].setup
    config = RunConfig(model="linear", dataset="synthetic", zero_init=True, lr=setup["lr"],
                       batch_size=setup["batch"], epochs=setup["epochs"])  # fmt: skip
    assert all(not p.any() for p in start(config).model.parameters()), "every weight and bias starts at 0"
    run = Trained(config)
    *w, b = run.history[-1].params
    assert w == pytest.approx([2.0, -3.4], abs=0.02) and b == pytest.approx(4.2, abs=0.02)
    answer = zero_init_linear([run])
    assert answer.done and "w = 0" in answer.evidence and "2.00" in answer.evidence
    default_start = Trained(RunConfig(model="linear", dataset="synthetic", lr=0.03, batch_size=16, epochs=3))
    assert not zero_init_linear([default_start]).done, "a run from the default init does not answer it"


def test_comparisons_count_only_distinct_settings_and_say_what_is_missing():
    runs = [Trained(RunConfig(model="linear", dataset="synthetic", lr=lr, batch_size=16, epochs=1), run_id=i)
            for i, lr in enumerate((0.003, 0.03, 0.03))]  # fmt: skip
    check = BY_ID["3.2.6"].check
    answer = check(runs)
    assert not answer.done and "1 more run" in answer.missing and len(answer.points) == 2
    runs.append(Trained(RunConfig(model="linear", dataset="synthetic", lr=0.3, batch_size=16, epochs=1), run_id=9))
    answer = check(runs)
    assert answer.done and [x for _, x, _ in answer.points] == [0.003, 0.03, 0.3]
    losses = [y for _, _, y in answer.points]
    assert losses[0] > losses[1], "a smaller lr leaves the loss higher after an epoch"


def test_a_ragged_last_batch_is_recognised_with_its_size():
    run = Trained(RunConfig(model="linear", dataset="synthetic", batch_size=64, epochs=1, lr=0.03))
    answer = BY_ID["3.2.7"].check([run])
    assert answer.done and "16 steps an epoch" in answer.evidence and "a last one of 40" in answer.evidence
    even = Trained(RunConfig(model="linear", dataset="synthetic", batch_size=100, epochs=1, lr=0.03))
    assert not BY_ID["3.2.7"].check([even]).done


def test_the_softmax_and_cross_entropy_from_their_definitions_break_where_the_stable_ones_do_not():
    """3.6.1-3.6.3 at the page's slider: agreement at scale 1, nan / inf at its top, the stable ones finite."""
    low, high = by_definition(1), by_definition(100)
    assert low["softmax_definition"] == pytest.approx(low["softmax"], rel=1e-5)
    assert low["cross_entropy_definition"] == pytest.approx(low["cross_entropy"], rel=1e-5)
    assert any(math.isnan(v) for v in high["softmax_definition"])
    assert math.isinf(high["cross_entropy_definition"])
    assert all(math.isfinite(v) for v in high["softmax"]) and math.isfinite(high["cross_entropy"])
    assert high["cross_entropy"] == pytest.approx(300.0)  # -log_softmax of the true class: 2 - (-1) = 3, x 100


@pytest.mark.slow
@pytest.mark.usefixtures("fashion_available")
def test_the_overfitting_setting_overfits_on_real_fashion_mnist_and_fewer_epochs_is_a_remedy(fashion):
    """3.7.2 and 4.5.3, as set up (the MLP on 200 images): the validation loss climbs 10% above its lowest while the
    training loss keeps falling. (The val accuracy stops improving but falls by less than 2 points: issue 26's
    closing note has the figures.)"""
    assert BY_ID["4.5.3"].setup == BY_ID["3.7.2"].setup
    e = BY_ID["3.7.2"]
    s = e.setup
    knobs = {"num_hiddens": s["hidden"], "num_layers": s["layers"]} if e.page == "mlp" else {}
    config = RunConfig(model=e.page, train_examples=s["n_train"], batch_size=s["batch"], epochs=s["epochs"],
                       lr=0.1, **knobs)  # fmt: skip
    overfit = Trained(config, fashion, run_id=1)
    evals = [p for p in overfit.history if p.val_loss is not None]
    low = min(evals, key=lambda p: p.val_loss)
    assert evals[-1].val_loss >= OVERFIT_RISE * low.val_loss and evals[-1].train_loss < low.train_loss / 2
    answer = overfitting([overfit])
    assert not answer.done and "remedy" in answer.missing and "then up to" in answer.evidence
    fewer = Trained(replace(config, epochs=5), fashion, run_id=2)
    answer = overfitting([overfit, fewer])
    assert answer.done and f"With {fewer.config.epochs} epochs" in answer.evidence
    assert not overfitting([fewer]).done, "a run stopped near its best is not overfitting"


def test_progress_lasts_in_the_store_and_a_derivation_is_never_marked(tmp_path):
    store_url = url(tmp_path)
    progress = Progress(Store(store_url))
    owner = "o" * 32
    progress.mark(owner, "3.2.1", "from w = 0 to the truth", run_id=3)
    with pytest.raises(ValueError):
        progress.mark(owner, "3.1.1")
    again = Progress(Store(store_url))  # a restart
    assert again.of(owner) == {"3.2.1": "from w = 0 to the truth"}
    assert again.of("x" * 32) == {}
    counts = again.counts(owner)
    assert counts["3"][0] == 1 and counts["3"][1] == sum(e.kind == RUNNABLE and e.id[0] == "3" for e in INVENTORY)


def test_each_page_with_exercises_lists_only_its_own():
    assert {e.page for e in of_page("linear")} == {"linear"}
    assert "3.6.1" in {e.id for e in of_page("softmax")} and "5.2.1" in {e.id for e in of_page("mlp")}


def test_the_readmes_table_lists_the_inventory_as_it_is():
    from core.lessons.exercises import inventory_table

    readme = (ROOT / "README.md").read_text()
    assert inventory_table() in readme, (
        "README's exercise table is stale: paste core.lessons.exercises.inventory_table()"
    )
