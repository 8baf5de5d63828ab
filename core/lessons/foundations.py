"""The computing behind the Foundations page (d2l ch. 2, 3.1.2): broadcasting, autograd, activations, timing.

Every answer comes from PyTorch itself - `torch.broadcast_shapes` decides whether two shapes broadcast,
`backward()` computes the gradients, the activations are `core.ops`' from-scratch ones - and this module
only adds what a learner needs around it: parsing what was typed (with a message, never a traceback,
for bad input), the alignment of two shapes from the right, small arange grids to draw, the analytic
derivatives to check autograd against, and a timing of a Python loop against one vectorized `a + b`
that never runs longer than a couple of seconds.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from core import ops

Tensor = torch.Tensor
Shape = tuple[int, ...]

MAX_DIMS = 4
MAX_SIZE = 12  # a 12 x 12 grid of numbers is still readable
MAX_VALUES = 12
MAX_ABS = 20.0  # exp(20) ~ 5e8 is still exact enough in float32 to compare with x.grad
MAX_N = 100_000  # the loop takes about 1 s for 100,000 additions on a two-core CPU
LOOP_BUDGET_S = 2.0
REPEATS = 10  # the vectorized add is timed this often, and its best time kept


class InputError(ValueError):
    """Something typed on the page that cannot be used; its message says why and what to type instead."""


# --- Shapes and broadcasting (d2l 2.1.4) -------------------------------------------------------


def parse_shape(text: str, max_dims: int = MAX_DIMS, max_size: int = MAX_SIZE) -> Shape:
    """ "3, 1" (or "(3, 1)", "3 1", "3x1") -> (3, 1); "()" is a scalar's shape. Raises InputError."""
    raw = text.strip()
    if not raw:
        raise InputError("Enter a shape: sizes separated by commas, like `3, 1`.")
    if len(raw) > 60:
        raise InputError(f"That is too long for a shape: at most {max_dims} sizes, like `2, 3, 4`.")
    inner = raw.strip("()[] ")
    if not inner:
        return ()  # a 0-d tensor, like torch.tensor(5.)
    parts = [p for p in re.split(r"[\s,x×*]+", inner) if p]
    for part in parts:
        if re.fullmatch(r"-\d+", part):
            raise InputError(f"`{part}` is negative: a size counts elements, so it is a whole number from 1.")
        if not re.fullmatch(r"\d{1,6}", part):
            raise InputError(f"`{part}` is not a size: a shape is whole numbers separated by commas, like `3, 1`.")
    shape = tuple(int(p) for p in parts)
    if len(shape) > max_dims:
        raise InputError(f"{len(shape)} dimensions are more than this page draws: use at most {max_dims}.")
    if any(s == 0 for s in shape):
        raise InputError(
            "A size of 0 makes an empty tensor (PyTorch allows it, but there is nothing to see): sizes start at 1."
        )
    if any(s > max_size for s in shape):
        raise InputError(f"A size of {max(shape)} is too large to draw here: use sizes from 1 to {max_size}.")
    return shape


@dataclass(frozen=True)
class Broadcast:
    shape_a: Shape
    shape_b: Shape
    shape: Shape | None  # the shape of a + b; None when the two shapes do not broadcast
    error: str | None  # why not, in words
    torch_error: str | None  # and in PyTorch's own words

    def alignment(self) -> dict[str, list[str]]:
        """The two shapes written under each other, aligned from the right: row -> one cell per dimension.

        A dimension one shape lacks is blank (it counts as size 1); the result row has "✗" where the
        sizes clash. The keys of the first row's dimensions are negative indices, as in the rule."""
        ndim = max(len(self.shape_a), len(self.shape_b))
        a = [""] * (ndim - len(self.shape_a)) + [str(s) for s in self.shape_a]
        b = [""] * (ndim - len(self.shape_b)) + [str(s) for s in self.shape_b]
        result = []
        for sa, sb in zip(a, b):
            na, nb = int(sa or 1), int(sb or 1)
            result.append(str(max(na, nb)) if na == nb or 1 in (na, nb) else "✗")
        return {"a": a, "b": b, "a + b": result}


def broadcast(shape_a: Shape, shape_b: Shape) -> Broadcast:
    """The shape of a + b, as torch.broadcast_shapes finds it, or the first clash explained."""
    try:
        return Broadcast(shape_a, shape_b, tuple(torch.broadcast_shapes(shape_a, shape_b)), None, None)
    except RuntimeError as err:
        torch_error = str(err)
    # walk from the right, as the rule does, to name the pair that clashes
    for i in range(1, min(len(shape_a), len(shape_b)) + 1):
        sa, sb = shape_a[-i], shape_b[-i]
        if sa != sb and 1 not in (sa, sb):
            why = (
                f"a {shape_a} and b {shape_b} do not broadcast. Aligned from the right, dimension {-i} has sizes "
                f"{sa} and {sb}: they differ and neither is 1, so neither can be stretched to the other."
            )
            return Broadcast(shape_a, shape_b, None, why, torch_error)
    raise AssertionError(f"PyTorch refused {shape_a} and {shape_b} but no pair of sizes clashes: {torch_error}")


def _grid(t: Tensor) -> Tensor:
    """A 0-, 1- or 2-d tensor as a 2-d grid: a scalar is 1 x 1, a vector (n,) one row (1, n), as it broadcasts."""
    return t.reshape(1, -1) if t.dim() < 2 else t


def _copied(shape: Shape, target: Shape) -> Tensor:
    """Which cells of a tensor of `shape` broadcast to `target` are copies (True) rather than its own elements."""
    padded = (1,) * (len(target) - len(shape)) + shape
    own = torch.zeros(target, dtype=torch.bool)
    own[tuple(slice(0, 1) if p == 1 and t > 1 else slice(None) for p, t in zip(padded, target))] = True
    return ~own


def broadcast_picture(shape_a: Shape, shape_b: Shape) -> dict[str, tuple[Tensor, Tensor]] | None:
    """d2l's picture: a and b as aranges of their shapes, both stretched to a + b's shape, and a + b.

    Returns panel title -> (values, copied), both 2-d (rows, cols); `copied` marks the cells that
    broadcasting filled by repeating. None when the shapes clash or a + b has more than 2 dimensions."""
    result = broadcast(shape_a, shape_b).shape
    if result is None or len(result) > 2:
        return None
    a = torch.arange(math.prod(shape_a)).reshape(shape_a)
    b = torch.arange(math.prod(shape_b)).reshape(shape_b)
    A, B = torch.broadcast_tensors(a, b)  # views: the "copies" share a's and b's memory
    no_copies = torch.zeros(result, dtype=torch.bool)
    return {
        f"a {shape_a}": (_grid(a), _grid(torch.zeros(shape_a, dtype=torch.bool))),
        f"b {shape_b}": (_grid(b), _grid(torch.zeros(shape_b, dtype=torch.bool))),
        f"a stretched to {result}": (_grid(A), _grid(_copied(shape_a, result))),
        f"b stretched to {result}": (_grid(B), _grid(_copied(shape_b, result))),
        f"a + b {result}": (_grid(a + b), _grid(no_copies)),
    }


# --- Autograd (d2l 2.5) --------------------------------------------------------------------------


@dataclass(frozen=True)
class GradFunction:
    f: Callable[[Tensor], Tensor]  # x (n,) -> the scalar y
    grad: Callable[[Tensor], Tensor]  # the analytic dy/dx, (n,)
    formula: str  # LaTeX of y
    grad_formula: str  # LaTeX of dy/dx
    grad_code: str  # dy/dx as code, for the check torch.allclose(x.grad, ...)


# keys are what the learner types in PyTorch, and go into the page's link as they are
GRAD_FUNCTIONS: dict[str, GradFunction] = {
    "2 * torch.dot(x, x)": GradFunction(
        lambda x: 2 * torch.dot(x, x), lambda x: 4 * x, r"y = 2\,\mathbf{x}^\top\mathbf{x}", r"4\mathbf{x}", "4 * x"
    ),
    "x.sum()": GradFunction(lambda x: x.sum(), torch.ones_like, r"y = \sum_i x_i", r"\mathbf{1}", "torch.ones_like(x)"),
    "(x ** 3).sum()": GradFunction(
        lambda x: (x**3).sum(), lambda x: 3 * x**2, r"y = \sum_i x_i^3", r"3\mathbf{x}^2", "3 * x ** 2"
    ),
    "torch.sin(x).sum()": GradFunction(
        lambda x: torch.sin(x).sum(), torch.cos, r"y = \sum_i \sin x_i", r"\cos\mathbf{x}", "torch.cos(x)"
    ),
    "torch.exp(x).sum()": GradFunction(
        lambda x: torch.exp(x).sum(), torch.exp, r"y = \sum_i e^{x_i}", r"e^{\mathbf{x}}", "torch.exp(x)"
    ),
}


def parse_values(text: str, max_values: int = MAX_VALUES, max_abs: float = MAX_ABS) -> Tensor:
    """ "0, 1, 2, 3" -> tensor([0., 1., 2., 3.]) (float32, as d2l's torch.arange(4.0)). Raises InputError."""
    parts = [p for p in re.split(r"[\s,;]+", text.strip().strip("()[]")) if p]
    if not parts:
        raise InputError("Enter the values of x separated by commas, like `0, 1, 2, 3`.")
    if len(parts) > max_values:
        raise InputError(f"{len(parts)} values are more than fit here: enter at most {max_values}.")
    values = []
    for part in parts:
        try:
            v = float(part)
        except ValueError:
            raise InputError(f"`{part[:20]}` is not a number: enter numbers separated by commas.") from None
        if math.isnan(v):
            raise InputError(f"`{part[:20]}` is not a number (NaN): enter numbers separated by commas.")
        if not math.isfinite(v) or abs(v) > max_abs:
            raise InputError(f"`{part[:20]}` is too large here: use numbers between -{max_abs:g} and {max_abs:g}.")
        values.append(v)
    return torch.tensor(values, dtype=torch.float32)


@dataclass(frozen=True)
class GradCheck:
    x: Tensor  # (n,)
    y: float
    grad: Tensor  # x.grad from y.backward(), (n,)
    expected: Tensor  # the analytic gradient, (n,)
    match: bool  # torch.allclose(x.grad, expected)


def check_gradient(name: str, x: Tensor) -> GradCheck:
    """y = GRAD_FUNCTIONS[name](x), y.backward(), and x.grad against the derivative worked out by hand."""
    fn = GRAD_FUNCTIONS[name]
    x = x.detach().clone().requires_grad_(True)
    y = fn.f(x)
    y.backward()
    expected = fn.grad(x.detach())
    return GradCheck(x.detach(), float(y.detach()), x.grad, expected, bool(torch.allclose(x.grad, expected)))


# --- Activations and their derivatives (d2l 5.1.2) ------------------------------------------------

ANALYTIC_DERIVATIVES: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": lambda x: (x > 0).to(x.dtype),  # 1[x > 0]; undefined at 0 itself
    "sigmoid": lambda x: torch.sigmoid(x) * (1 - torch.sigmoid(x)),
    "tanh": lambda x: 1 - torch.tanh(x) ** 2,
}
DERIVATIVE_FORMULAS = {
    "relu": r"\mathrm{ReLU}'(x) = 1[x > 0]",
    "sigmoid": r"\sigma'(x) = \sigma(x)\,(1 - \sigma(x))",
    "tanh": r"\tanh'(x) = 1 - \tanh^2(x)",
}


@dataclass(frozen=True)
class Curve:
    x: Tensor  # (num,)
    y: Tensor  # f(x), (num,)
    dy: Tensor  # f'(x) by autograd, (num,)
    formula: Tensor  # f'(x) by the analytic formula, (num,)

    @property
    def max_error(self) -> float:
        """The largest gap between autograd's derivative and the formula's."""
        return float((self.dy - self.formula).abs().max())


def activation_curves(lo: float = -8.0, hi: float = 8.0, num: int = 401) -> dict[str, Curve]:
    """Each of core.ops' from-scratch activations on [lo, hi] and its derivative by autograd."""
    curves = {}
    for name, (scratch, _) in ops.ACTIVATIONS.items():
        x = torch.linspace(lo, hi, num, requires_grad=True)
        y = scratch(x)
        y.sum().backward()  # y_i depends on x_i alone, so d(sum y)/dx_i is f'(x_i)
        X = x.detach()
        curves[name] = Curve(X, y.detach(), x.grad, ANALYTIC_DERIVATIVES[name](X))
    return curves


# --- A Python loop against one vectorized addition (d2l 3.1.2) ----------------------------------

# PyTorch splits a CPU elementwise op over its threads above this many elements (at::internal::GRAIN_SIZE)
PARALLEL_GRAIN = 32_768


@dataclass(frozen=True)
class Timing:
    n: int
    device: str  # where both ran, e.g. "cpu", "cuda:0"
    loop_s: float  # seconds for all n additions, one c[i] = a[i] + b[i] at a time
    vector_s: float  # seconds for d = a + b (best of a few runs)
    loop_steps: int  # additions the loop really did: fewer than n when it ran out of time
    same: bool  # the loop's c equals a + b where the loop got to

    @property
    def estimated(self) -> bool:
        return self.loop_steps < self.n

    @property
    def speedup(self) -> float:
        return self.loop_s / self.vector_s


def _sync(device: torch.device) -> None:
    """Wait for the GPU: its kernels run asynchronously, and a clock read too early times only the launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def time_addition(
    n: int, device: torch.device | str = "cpu", budget_s: float = LOOP_BUDGET_S, repeats: int = REPEATS
) -> Timing:
    """Time adding two vectors of length n element by element in Python against one `a + b`, on `device`.

    The loop stops once it has run for `budget_s` (a GPU launches a kernel per element, which is slow)
    and its time for all n is then extrapolated from the additions it did."""
    if not 1 <= n <= 10 * MAX_N:
        raise ValueError(f"n must be between 1 and {10 * MAX_N:,}, not {n}")
    device = torch.device(device)
    a, b = torch.ones(n, device=device), torch.ones(n, device=device)
    c = torch.zeros(n, device=device)
    _sync(device)
    start = time.perf_counter()
    steps = n
    for i in range(n):
        c[i] = a[i] + b[i]
        if i % 256 == 255 and time.perf_counter() - start > budget_s:
            steps = i + 1
            break
    _sync(device)
    loop_s = (time.perf_counter() - start) * n / steps
    d = a + b  # warm-up: the first call may allocate or compile
    best = math.inf
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        d = a + b
        _sync(device)
        best = min(best, time.perf_counter() - start)
    same = bool(torch.equal(c[:steps], d[:steps]))
    return Timing(n, str(device), loop_s, max(best, 1e-9), steps, same)
