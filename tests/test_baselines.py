"""core.lessons.baselines: seed 004's ladder reproduced on the real Fashion-MNIST, with the figures measured here.

The pixel-similarity baseline is exact arithmetic, so its accuracies are pinned to half a point. The
trained rungs use seed 0 and the post's settings (batch 256, lr 1, N(0, 1) init); their bounds are
the measured accuracies with a margin, and the orders they assert held for every seed tried (0-3).
Softmax regression from scratch against concise is tests/test_train.py's; it is not repeated here.
"""

from __future__ import annotations

import pytest
import torch

from core.datasets import Data
from core.lessons import baselines
from core.lessons.baselines import LOSS_RUNGS, RUNGS, ladder, pixel_similarity
from core.train import start, train

# --- The pixel-similarity baseline -------------------------------------------------------------


def test_pixel_similarity_is_the_nearest_class_mean():
    g = torch.Generator().manual_seed(0)
    X_train, y_train = torch.rand(30, 1, 4, 4, generator=g), torch.arange(30) % 3
    X_val, y_val = torch.rand(7, 1, 4, 4, generator=g), torch.tensor([0, 1, 2, 0, 1, 2, 0])
    result = pixel_similarity(Data("toy", X_train, y_train, X_val, y_val, classes=("a", "b", "c")), chunk=3)

    means = torch.stack([X_train[y_train == c].mean(0) for c in range(3)])  # (q, C, H, W), the post's loop
    assert result.means.shape == (3, 1, 4, 4) and torch.allclose(result.means, means)
    scores = {False: (result.accuracy_mae, result.per_class_mae), True: (result.accuracy_mse, result.per_class_mse)}
    for squared, (accuracy, per_class) in scores.items():
        dist = torch.stack([((X_val - m) ** 2 if squared else (X_val - m).abs()).mean((1, 2, 3)) for m in means])
        predicted = dist.argmin(0)  # (n,): the post's analyze_digit, all images at once
        assert accuracy == pytest.approx(float((predicted == y_val).float().mean()))
        expected = [float((predicted[y_val == c] == c).float().mean()) for c in range(3)]
        assert list(per_class) == pytest.approx(expected)


def test_pixel_similarity_on_fashion_mnist(fashion):
    """Measured: MAE 61.2%, MSE 67.7% (the post: 66.1% and 81.7% on MNIST; clothes are harder)."""
    result = pixel_similarity(fashion)
    assert result.means.shape == (10, 1, 28, 28)
    assert result.accuracy_mae == pytest.approx(0.6124, abs=0.005)
    assert result.accuracy_mse == pytest.approx(0.6768, abs=0.005)
    assert result.accuracy_mse > result.accuracy_mae + 0.05, "squaring punishes big differences: MSE wins"
    assert len(result.per_class_mse) == 10 and all(0 <= a <= 1 for a in result.per_class_mse)
    # a balanced split (1,000 of each class): the post's mean of per-class accuracies is the accuracy
    assert sum(result.per_class_mse) / 10 == pytest.approx(result.accuracy_mse, abs=1e-6)
    assert min(result.per_class_mse) < 0.35 < 0.85 < max(result.per_class_mse), "shirts fail, trousers do not"


# --- The trained rungs ---------------------------------------------------------------------------


def test_ladder_configs_follow_the_post():
    configs = {rung.key: config for rung, config in ladder("fashion_mnist", epochs=3, device="cpu")}
    assert list(configs) == [rung.key for rung in RUNGS]
    for key in LOSS_RUNGS:
        assert configs[key].model == "softmax" and configs[key].lr == 1.0 and configs[key].loss == key
    assert configs["small_net"].num_hiddens == 64 and configs["small_net"].activation == "sigmoid"
    assert configs["mlp"].num_hiddens == 256 and configs["mlp"].activation == "relu" and configs["mlp"].lr == 0.1
    trained_on_all = [c for k, c in configs.items() if k != "resnet"]
    assert all(c.batch_size == 256 and c.epochs == 3 and c.train_examples == 0 for c in trained_on_all)
    resnet = configs["resnet"]
    assert resnet.train_examples == 0 and resnet.epochs == baselines.RESNET_CPU_EPOCHS == 1, "one epoch on a CPU"
    assert (resnet.optimizer, resnet.lr_schedule, resnet.normalize) == ("nesterov", "one_cycle", True), "the recipe"
    assert (resnet.lr, resnet.batch_size, resnet.label_smoothing, resnet.weight_decay) == (0.2, 128, 0.1, 5e-4)
    assert ladder("fashion_mnist", 1, 2000, device="cpu")[-1][1].train_examples == 2000


def test_the_posts_rungs_start_from_its_normal_init(fashion):
    """The post's init_params draws every weight and bias from N(0, 1); d2l's MLP and the ResNet keep their own."""
    configs = {rung.key: config for rung, config in ladder("fashion_mnist", epochs=1, device="cpu")}
    for key in (*LOSS_RUNGS, "small_net"):
        assert configs[key].init_std == 1.0, key
        weights = torch.cat([p.detach().flatten() for p in start(configs[key], fashion).model.parameters()])
        assert weights.std() == pytest.approx(1.0, abs=0.03) and weights.mean() == pytest.approx(0.0, abs=0.03)
    assert configs["mlp"].init_std == configs["resnet"].init_std == 0


LADDER_EPOCHS = 5


@pytest.fixture(scope="module")
def loss_ladder(fashion):
    """The post's three linear models, seed 0, 5 epochs at lr 1 on all 60,000 images: accuracy per epoch."""
    runs = {}
    for rung, config in ladder("fashion_mnist", LADDER_EPOCHS, device="cpu"):
        if rung.key in LOSS_RUNGS:
            runs[rung.key] = [p.val_acc for p in train(config, fashion).history if p.val_acc is not None]
    return runs


def test_cross_entropy_beats_softmax_mse_beats_sigmoid_mse(loss_ladder):
    """Measured after 5 epochs: sigmoid + MSE 33.6%, softmax + MSE 40.7%, cross-entropy 80.9%.

    From N(0, 1) weights the logits are huge, so sigmoid and softmax saturate and the MSE losses barely
    move, while cross-entropy's gradient (p - y) does not vanish. At lr = 1 cross-entropy overshoots and
    wobbles between 66% and 81% from epoch to epoch (and with the float rounding of one thread or two), so
    its bounds are wide. In the first two epochs the two MSE losses can still swap places (seed 0 did);
    from 3 epochs on their order held for seeds 0-3 (after 5: sigmoid 24-34%, softmax 41-47%).
    """
    final = {key: curve[-1] for key, curve in loss_ladder.items()}
    assert all(len(curve) == LADDER_EPOCHS for curve in loss_ladder.values())
    assert final["cross_entropy"] > final["softmax_mse"] + 0.25
    assert final["softmax_mse"] > final["sigmoid_mse"] + 0.03
    assert final["sigmoid_mse"] < 0.4 and final["cross_entropy"] > 0.6
    # the post's point about speed: one epoch of cross-entropy beats five of either MSE loss
    assert loss_ladder["cross_entropy"][0] > max(final["softmax_mse"], final["sigmoid_mse"]) + 0.25


def test_the_mlp_beats_softmax_regression_by_a_point(d2l_run):
    """d2l's settings, seed 0, 10 epochs at lr 0.1, batch 256. Measured: softmax 82.3%, MLP 83.7% (+1.4).

    Plain SGD wobbles about a point between epochs, so the mean of the last three epochs is checked too
    (measured 82.7% against 84.5%; over seeds 0-2 the final gap was 1.4-1.6 points, that mean 1.6-1.8).
    """
    curves = {
        model: [p.val_acc for p in d2l_run(model).history if p.val_acc is not None] for model in ("softmax", "mlp")
    }
    softmax, mlp = curves["softmax"], curves["mlp"]
    assert len(softmax) == len(mlp) == 10
    assert mlp[-1] >= softmax[-1] + 0.01
    assert sum(mlp[-3:]) / 3 >= sum(softmax[-3:]) / 3 + 0.01
    assert 0.80 < softmax[-1] < 0.85 and 0.82 < mlp[-1] < 0.87


@pytest.mark.slow
def test_the_ladder_climbs_to_the_resnet(fashion):
    """Each rung of the issue's ladder beats the one below, the ResNet on top (issue 11): 2 epochs a rung (the
    ResNet 1, on a CPU) on the first 30,000 training images, every rung scored on all 10,000 validation images.
    Measured: pixel similarity (MSE) 67.7%, linear cross-entropy 75.0%, MLP 78.3%, ResNet 85.5%."""
    pixel = baselines.pixel_similarity(fashion).accuracy_mse
    accuracy = {
        rung.key: train(config, fashion).last_eval.val_acc
        for rung, config in ladder("fashion_mnist", epochs=2, train_examples=30000, device="cpu")
        if rung.key in ("cross_entropy", "mlp", "resnet")
    }
    assert pixel < accuracy["cross_entropy"] < accuracy["mlp"] < accuracy["resnet"], (pixel, accuracy)
    assert accuracy["resnet"] >= accuracy["mlp"] + 0.02, "the course's last model is clearly its best"
