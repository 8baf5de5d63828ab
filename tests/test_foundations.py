"""core.lessons.foundations: shapes parsed or refused with a message, broadcasting as PyTorch does it, autograd
checked against hand-derived gradients, the activations' derivatives, and the loop-versus-vector timing."""

from __future__ import annotations

import pytest
import torch

from core.lessons import foundations as fd

# --- parse_shape -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, shape",
    [("3, 1", (3, 1)), ("(3, 1)", (3, 1)), ("[2,3,4]", (2, 3, 4)), ("3 1", (3, 1)), ("3x1", (3, 1)), ("4", (4,)),
     ("  12 ,1,  ", (12, 1)), ("()", ()), ("1, 1, 1, 1", (1, 1, 1, 1))],
)  # fmt: skip
def test_parse_shape_reads_the_usual_spellings(text, shape):
    assert fd.parse_shape(text) == shape


@pytest.mark.parametrize(
    "text, words",
    [("", "Enter a shape"), ("   ", "Enter a shape"), ("three, 1", "`three` is not a size"),
     ("3.5, 1", "`3.5` is not a size"), ("3, -1", "negative"), ("0, 4", "size of 0"), ("13, 1", "from 1 to 12"),
     ("1000000000000", "not a size"), ("1, 2, 3, 4, 5", "at most 4"), ("1, " * 40, "too long"),
     ("3; DROP TABLE", "not a size")],
)  # fmt: skip
def test_parse_shape_refuses_garbage_with_a_message(text, words):
    with pytest.raises(fd.InputError, match=words):
        fd.parse_shape(text)


# --- broadcast --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b, result",
    [((3, 1), (1, 4), (3, 4)), ((3, 1), (1, 2), (3, 2)), ((4,), (3, 4), (3, 4)), ((), (2, 3), (2, 3)),
     ((2, 1, 4), (3, 1), (2, 3, 4)), ((5, 1, 1, 2), (1, 3, 1), (5, 1, 3, 2)), ((1,), (7,), (7,))],
)  # fmt: skip
def test_broadcast_matches_torch_and_the_known_cases(a, b, result):
    got = fd.broadcast(a, b)
    assert got.shape == result == tuple((torch.zeros(a) + torch.zeros(b)).shape)
    assert got.error is None


def test_a_clash_is_explained_from_the_right():
    got = fd.broadcast((3,), (4,))
    assert got.shape is None
    assert "dimension -1 has sizes 3 and 4" in got.error and "neither is 1" in got.error
    assert got.torch_error  # PyTorch's own message comes along
    assert got.alignment() == {"a": ["3"], "b": ["4"], "a + b": ["✗"]}
    deeper = fd.broadcast((2, 3, 4), (5, 4))
    assert "dimension -2 has sizes 3 and 5" in deeper.error


def test_alignment_pads_the_shorter_shape_on_the_left():
    assert fd.broadcast((4,), (3, 1)).alignment() == {"a": ["", "4"], "b": ["3", "1"], "a + b": ["3", "4"]}


def test_the_picture_is_d2ls_arange_example():
    picture = fd.broadcast_picture((3, 1), (1, 2))
    values = [v for v, _ in picture.values()]
    copied = [c for _, c in picture.values()]
    assert torch.equal(values[-1], torch.tensor([[0, 1], [1, 2], [2, 3]]))  # d2l 2.1.4's a + b
    assert torch.equal(values[2], torch.tensor([[0, 0], [1, 1], [2, 2]]))  # a stretched along its columns
    assert torch.equal(copied[2], torch.tensor([[False, True]] * 3))  # column 0 is a itself, column 1 its copy
    assert torch.equal(copied[3], torch.tensor([[False, False], [True, True], [True, True]]))
    assert not copied[0].any() and not copied[-1].any()


def test_the_picture_draws_vectors_as_rows_and_skips_3d():
    picture = fd.broadcast_picture((4,), ())
    assert [v.shape for v, _ in picture.values()] == [(1, 4), (1, 1), (1, 4), (1, 4), (1, 4)]
    assert fd.broadcast_picture((2, 3, 4), (4,)) is None
    assert fd.broadcast_picture((3,), (4,)) is None


# --- autograd ----------------------------------------------------------------------------------


def test_the_gradient_of_2_xtx_is_4x():
    x = torch.arange(4.0)
    check = fd.check_gradient("2 * torch.dot(x, x)", x)
    assert check.y == 28.0  # d2l 2.5.1
    assert torch.equal(check.grad, torch.tensor([0.0, 4.0, 8.0, 12.0]))
    assert torch.equal(check.grad, 4 * x) and check.match


@pytest.mark.parametrize("name", list(fd.GRAD_FUNCTIONS))
def test_every_function_matches_its_analytic_gradient(name):
    x = torch.tensor([-2.5, -1.0, 0.0, 0.3, 1.0, 4.0])
    check = fd.check_gradient(name, x)
    assert check.match
    assert torch.allclose(check.grad, fd.GRAD_FUNCTIONS[name].grad(x))
    assert not x.requires_grad  # the caller's tensor is left alone


def test_parse_values():
    assert torch.equal(fd.parse_values("0, 1, 2, 3"), torch.arange(4.0))
    assert torch.equal(fd.parse_values("[-1.5 2e0]"), torch.tensor([-1.5, 2.0]))
    for text, words in [("", "Enter the values"), ("1, two", "`two` is not a number"),
                        ("nan", r"`nan` is not a number \(NaN\)"), ("inf", "too large"),  # NaN is no size
                        ("1e30", "too large"), (", ".join(["1"] * 13), "at most 12")]:  # fmt: skip
        with pytest.raises(fd.InputError, match=words):
            fd.parse_values(text)


# --- activations -------------------------------------------------------------------------------


def test_activation_gradients_match_the_formulas():
    curves = fd.activation_curves(num=401)
    x = curves["relu"].x
    assert x[0] == -8 and x[-1] == 8
    away = x != 0  # ReLU has no derivative at 0
    assert torch.equal(curves["relu"].dy[away], (x[away] > 0).float())  # relu' = 1[x > 0]
    s = torch.sigmoid(x)
    assert torch.allclose(curves["sigmoid"].dy, s * (1 - s), atol=1e-6)  # sigmoid' = s(1 - s)
    assert torch.allclose(curves["tanh"].dy, 1 - torch.tanh(x) ** 2, atol=1e-6)  # tanh' = 1 - tanh^2
    for name, c in curves.items():
        assert torch.allclose(c.y, fd.ops.ACTIVATIONS[name][1](x), atol=1e-6)
        assert torch.allclose(c.dy[away], c.formula[away], atol=1e-6)


# --- timing ------------------------------------------------------------------------------------


def test_vectorized_addition_is_faster_than_the_loop():
    t = fd.time_addition(10_000)
    assert t.loop_s > 0 and t.vector_s > 0
    assert t.vector_s < t.loop_s and t.speedup > 10
    assert t.same and not t.estimated and t.loop_steps == 10_000 and t.device == "cpu"


def test_the_loop_stops_at_its_budget_and_extrapolates():
    t = fd.time_addition(1_000_000, budget_s=0.05)
    assert t.estimated and 256 <= t.loop_steps < 1_000_000
    assert t.loop_s > 0.05 and t.same
    with pytest.raises(ValueError):
        fd.time_addition(0)
