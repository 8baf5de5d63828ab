"""core.ops and core.optim from scratch against their PyTorch twins: same values, same gradients, same steps."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from core import ops
from core.optim import SGD, OneCycle, current_lr, make_optimizer, make_schedule
from core.train import RunConfig


def values_and_grads(fn, *inputs: torch.Tensor, upstream: torch.Tensor | None = None):
    """fn(*inputs) and the gradient of <fn(*inputs), upstream> with respect to the first input."""
    x = inputs[0].detach().clone().requires_grad_(True)
    out = fn(x, *inputs[1:])
    weight = torch.ones_like(out) if upstream is None else upstream
    (out * weight).sum().backward()
    return out.detach(), x.grad


def assert_twins(scratch, concise, *inputs, upstream=None, **tol):
    ours, our_grad = values_and_grads(scratch, *inputs, upstream=upstream)
    theirs, their_grad = values_and_grads(concise, *inputs, upstream=upstream)
    torch.testing.assert_close(ours, theirs, **tol)
    torch.testing.assert_close(our_grad, their_grad, **tol)
    assert torch.isfinite(ours).all() and torch.isfinite(our_grad).all()


@pytest.fixture
def logits() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return 3 * torch.randn(16, 10, generator=g)


@pytest.fixture
def labels() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 10, (16,), generator=g)


@pytest.fixture
def upstream() -> torch.Tensor:
    g = torch.Generator().manual_seed(2)
    return torch.randn(16, 10, generator=g)


def test_softmax_matches_torch(logits, upstream):
    assert_twins(ops.softmax, lambda O: torch.softmax(O, dim=1), logits, upstream=upstream)
    assert torch.allclose(ops.softmax(logits).sum(dim=1), torch.ones(16))


def test_log_softmax_matches_torch(logits, upstream):
    assert_twins(ops.log_softmax, lambda O: F.log_softmax(O, dim=1), logits, upstream=upstream)


def test_cross_entropy_matches_torch(logits, labels):
    assert_twins(ops.cross_entropy, F.cross_entropy, logits, labels)


@pytest.mark.parametrize("shape", [(32, 1), (32,)])
def test_mse_matches_torch(shape):
    g = torch.Generator().manual_seed(3)
    y_hat, y = torch.randn(32, 1, generator=g), torch.randn(*shape, generator=g)
    assert_twins(ops.mse, lambda a, b: F.mse_loss(a, b.reshape(a.shape)), y_hat, y)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_activations_match_torch(name):
    scratch, concise = ops.ACTIVATIONS[name]
    g = torch.Generator().manual_seed(4)
    X = 5 * torch.randn(64, 33, generator=g)  # values well inside float32's exp() range, no exact zeros
    assert_twins(scratch, concise, X, upstream=torch.randn(64, 33, generator=g))


@pytest.mark.parametrize("big", [1e4, -1e4])
def test_softmax_and_cross_entropy_stay_finite_at_huge_logits(big):
    O = torch.tensor([[big, 0.0, -big], [big, big, 0.0], [-big, -big, -big], [big, 1.0, 2.0]])
    y = torch.tensor([2, 0, 1, 0])
    assert_twins(ops.softmax, lambda O: torch.softmax(O, dim=1), O)
    assert_twins(ops.log_softmax, lambda O: F.log_softmax(O, dim=1), O)
    assert_twins(ops.cross_entropy, F.cross_entropy, O, y)
    assert torch.allclose(ops.softmax(O).sum(dim=1), torch.ones(4))


def test_cross_entropy_of_a_confident_wrong_answer_is_large_not_inf():
    O = torch.tensor([[1e4, 0.0, 0.0]])
    assert float(ops.cross_entropy(O, torch.tensor([1]))) == pytest.approx(1e4)
    assert float(ops.cross_entropy(O, torch.tensor([0]))) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_saturated_activations_have_zero_not_nan_gradient(name):
    scratch, concise = ops.ACTIVATIONS[name]
    X = torch.tensor([-100.0, -60.0, -20.0, 0.0, 20.0, 60.0, 100.0])
    assert_twins(scratch, concise, X)


def test_relu_gradient_at_zero_matches_torch():
    assert_twins(ops.relu, torch.relu, torch.tensor([-1.0, 0.0, 1.0]))


def test_one_hot():
    assert ops.one_hot(torch.tensor([2, 0]), 3).tolist() == [[0, 0, 1], [1, 0, 0]]


LOSS_CHOICES = [
    *[(name, True) for name in ops.LOSSES if name != "mse"],  # classification: every loss of the ladder
    ("auto", False),  # regression: the squared loss only
    ("mse", False),
]


@pytest.mark.parametrize(("name", "classification"), LOSS_CHOICES)
def test_every_loss_is_the_same_from_scratch_and_concise(name, classification, logits, labels):
    y = labels if classification else torch.randn(16, 10)
    scratch = ops.loss_fn(name, scratch=True, classification=classification)
    concise = ops.loss_fn(name, scratch=False, classification=classification)
    assert_twins(scratch, concise, logits, y)


def test_unknown_loss_names_the_choices():
    with pytest.raises(ValueError, match="choose one of: auto, cross_entropy"):
        ops.loss_fn("hinge", scratch=True, classification=True)


# --- core.optim.SGD against torch.optim.SGD ----------------------------------------------


def _regression_problem():
    g = torch.Generator().manual_seed(5)
    return (
        torch.randn(20, 5, generator=g),  # initial weights
        torch.randn(5, generator=g),  # initial bias
        torch.randn(64, 20, generator=g),
        torch.randn(64, 5, generator=g),
    )


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"momentum": 0.9},
        {"weight_decay": 0.01},
        {"momentum": 0.9, "weight_decay": 0.05},
        {"momentum": 0.9, "nesterov": True},
        {"momentum": 0.8, "nesterov": True, "weight_decay": 5e-4},
    ],
    ids=["plain", "momentum", "weight_decay", "momentum+weight_decay", "nesterov", "nesterov+weight_decay"],
)
def test_sgd_takes_the_steps_torch_takes(options):
    w0, b0, X, y = _regression_problem()
    ours = [w0.clone().requires_grad_(), b0.clone().requires_grad_()]
    theirs = [w0.clone().requires_grad_(), b0.clone().requires_grad_()]
    frozen = torch.ones(3, requires_grad=False)  # parameters that do not learn are left alone
    our_opt = SGD([*ours, frozen], lr=0.05, **options)
    their_opt = torch.optim.SGD(theirs, lr=0.05, **options)
    for _ in range(10):
        for (w, b), opt in ((ours, our_opt), (theirs, their_opt)):
            opt.zero_grad()
            ((X @ w + b - y) ** 2).mean().backward()
            opt.step()
        for mine, torchs in zip(ours, theirs):
            torch.testing.assert_close(mine, torchs, rtol=1e-6, atol=1e-6)
    assert not torch.equal(ours[0], w0), "the weights moved"
    assert torch.equal(frozen, torch.ones(3))


@pytest.mark.parametrize(
    "options",
    [{"momentum": 0.9}, {"momentum": 0.9, "nesterov": True, "weight_decay": 5e-4}],
    ids=["momentum", "nesterov+weight_decay"],
)
def test_sgd_steps_are_bitwise_identical_to_torch(options):
    w0, _, X, y = _regression_problem()
    ours, theirs = w0.clone().requires_grad_(), w0.clone().requires_grad_()
    our_opt, their_opt = SGD([ours], lr=0.05, **options), torch.optim.SGD([theirs], lr=0.05, **options)
    for _ in range(10):
        for w, opt in ((ours, our_opt), (theirs, their_opt)):
            opt.zero_grad()
            ((X @ w - y) ** 2).mean().backward()
            opt.step()
    assert torch.equal(ours, theirs)


def test_sgd_skips_parameters_without_gradients():
    a, b = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    opt = SGD([a, b], lr=0.5)
    (a * 2).sum().backward()
    opt.step()
    assert a.tolist() == [0.0, 0.0] and b.tolist() == [1.0, 1.0]
    opt.zero_grad()
    assert a.grad is None


def test_make_optimizer_picks_ours_from_scratch_and_torchs_otherwise():
    params = [torch.nn.Parameter(torch.zeros(2))]

    def of(**options):
        return make_optimizer(RunConfig(**options), params)

    ours = of(optimizer="momentum", implementation="scratch")
    assert isinstance(ours, SGD) and ours.momentum == 0.9 and ours.lr == 0.1 and not ours.nesterov
    plain = of(optimizer="sgd", implementation="scratch", momentum=0.5)
    assert isinstance(plain, SGD) and plain.momentum == 0.0, "plain SGD ignores the momentum setting"
    nesterov = of(optimizer="nesterov", implementation="scratch", momentum=0.8, weight_decay=1e-3)
    assert (nesterov.momentum, nesterov.nesterov, nesterov.weight_decay) == (0.8, True, 1e-3)
    concise = of(optimizer="nesterov", weight_decay=5e-4)
    group = concise.param_groups[0]
    assert isinstance(concise, torch.optim.SGD)
    assert (group["momentum"], group["nesterov"], group["weight_decay"]) == (0.9, True, 5e-4)
    adam = of(optimizer="adam", implementation="scratch", weight_decay=1e-4)
    assert isinstance(adam, torch.optim.Adam) and adam.param_groups[0]["weight_decay"] == 1e-4


# --- core.optim.OneCycle against torch.optim.lr_scheduler.OneCycleLR ---------------------------


@pytest.mark.parametrize("total_steps", [1, 2, 7, 100, 469])
def test_one_cycle_gives_every_step_the_lr_torch_gives(total_steps):
    params = [torch.nn.Parameter(torch.zeros(2))]
    ours = SGD(params, lr=0.2)
    schedule = OneCycle(ours, 0.2, total_steps)
    theirs = torch.optim.SGD(params, lr=0.2, momentum=0.9)
    their_schedule = torch.optim.lr_scheduler.OneCycleLR(theirs, 0.2, total_steps=total_steps, cycle_momentum=False)
    ours_lrs, theirs_lrs = [], []
    for _ in range(total_steps):
        ours_lrs.append(current_lr(ours))
        theirs_lrs.append(current_lr(theirs))
        theirs.step()  # no gradients: only the schedule moves
        schedule.step()
        their_schedule.step()
    assert ours_lrs == pytest.approx(theirs_lrs, rel=1e-12, abs=1e-15)
    assert theirs.param_groups[0]["momentum"] == 0.9, "the momentum is not cycled"
    if total_steps >= 100:
        peak = max(range(total_steps), key=ours_lrs.__getitem__)
        assert ours_lrs[0] == pytest.approx(0.2 / 25) and max(ours_lrs) == pytest.approx(0.2, rel=1e-4)
        assert peak == pytest.approx(0.3 * total_steps, abs=1.5), "the lr peaks after 30% of the steps"
        assert ours_lrs[-1] < 1e-4, "and ends near 0"


def test_make_schedule_is_ours_from_scratch_torchs_otherwise_and_none_for_a_constant_lr():
    params = [torch.nn.Parameter(torch.zeros(2))]
    scratch = RunConfig(lr_schedule="one_cycle", implementation="scratch")
    assert isinstance(make_schedule(scratch, make_optimizer(scratch, params), 10), OneCycle)
    concise = RunConfig(lr_schedule="one_cycle")
    schedule = make_schedule(concise, make_optimizer(concise, params), 10)
    assert isinstance(schedule, torch.optim.lr_scheduler.OneCycleLR)
    assert make_schedule(RunConfig(), make_optimizer(RunConfig(), params), 10) is None


@pytest.mark.parametrize("smoothing", [0.1, 0.5])
def test_label_smoothing_matches_torch(logits, labels, smoothing):
    scratch = ops.loss_fn("cross_entropy", scratch=True, classification=True, label_smoothing=smoothing)
    concise = ops.loss_fn("auto", scratch=False, classification=True, label_smoothing=smoothing)
    assert_twins(scratch, concise, logits, labels)
    plain = ops.loss_fn("cross_entropy", scratch=True, classification=True)
    assert float(scratch(logits, labels)) != pytest.approx(float(plain(logits, labels))), "smoothing changes it"
