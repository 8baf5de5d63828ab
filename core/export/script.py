"""A run's settings as a short PyTorch program that students can read and run anywhere.

`to_script` writes the run as a plain Python script and `to_notebook` as a Jupyter notebook (nbformat 4,
built as JSON by hand) with the same code cells. The program uses only PyTorch and torchvision, never
this dashboard's `core`: it loads the dataset with torchvision (or makes the synthetic data), holds it
as tensors, defines the model as the run builds it - explicit parameters when the implementation is
"scratch", torch.nn layers when "concise" - then the loss, the optimizer and a plain minibatch loop
that prints each epoch's train loss and validation accuracy. The model classes, the from-scratch
activations, losses, optimizer and schedule are `core`'s own source, less type hints (`_source`); the
data loading and the loop are templates of the code one would write by hand, filled in with the run's
numbers, and follow `core.train`, so the exported run starts from the same weights, sees the examples
in the same order and ends with the same accuracy.
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import re
import tokenize
from string import Template
from textwrap import dedent, fill

from core import datasets, ops, optim
from core.models import MODELS, SIMD_FLOATS, Normalized, resnet_shape
from core.models.linear import LinearRegression, LinearRegressionScratch
from core.models.mlp import MLP, MLPScratch, layer_sizes
from core.models.resnet import RESNET18, Residual, ResNet, basic_block, resnet18_torchvision, resnet_concise
from core.models.softmax import SoftmaxRegression, SoftmaxRegressionScratch
from core.train import RunConfig, recipe_parts

# what the pages call each dataset, and (channels, height, width, classes) of the image sets
IMAGE_SHAPES = {"fashion_mnist": (1, 28, 28, 10), "mnist": (1, 28, 28, 10), "cifar10": (3, 32, 32, 10)}
IMAGE_SHAPES["cifar10_catdog"] = (3, 32, 32, 3)
LOSS_NAMES = {
    "cross_entropy": "cross-entropy loss",
    "softmax_mse": "squared error of the softmax probabilities",
    "sigmoid_mse": "squared error of the sigmoid probabilities",
    "mse": "squared loss",
}
OPTIMIZER_NAMES = {
    "sgd": "minibatch SGD",
    "momentum": "SGD with momentum",
    "nesterov": "SGD with Nesterov momentum",
    "adam": "Adam",
}


def _optimizer_name(config: RunConfig) -> str:
    """e.g. "SGD with Nesterov momentum 0.9"."""
    name = OPTIMIZER_NAMES[config.optimizer]
    return f"{name} {config.momentum:g}" if config.optimizer in ("momentum", "nesterov") else name


def _fill(template: str, **values) -> str:
    return Template(dedent(template)).substitute(values).strip("\n")


# The from-scratch functions are core.ops' own code, so that the script computes exactly what the run did.
ACTIVATIONS_SCRATCH = {"relu": [ops.relu], "sigmoid": [ops.sigmoid], "tanh": [ops.sigmoid, ops.tanh]}
LOSSES_SCRATCH = {
    "mse": [ops.mse],
    "cross_entropy": [ops.log_softmax, ops.cross_entropy],
    "softmax_mse": [ops.softmax, ops.one_hot, ops.mse],
    "sigmoid_mse": [ops.sigmoid, ops.one_hot, ops.mse],
}


def _source(*objects) -> str:
    """The source of core's functions and classes without type hints, as one would write them in a script:
    `def relu(X: Tensor) -> Tensor:` -> `def relu(X):`, a signature over several lines back on one."""
    return "\n\n\n".join(_plain(inspect.getsource(obj)).strip("\n") for obj in objects)


def _plain(source: str) -> str:
    lines = source.split("\n")
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    defs = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)]
    for node in sorted(defs, key=lambda node: node.lineno, reverse=True):  # from the bottom: line numbers hold
        depth = 0
        for token in (t for t in tokens if t.start[0] >= node.lineno and t.type == tokenize.OP):
            depth += (token.string in "([{") - (token.string in ")]}")
            if token.string == ":" and depth == 0:  # the colon that ends the signature, not one in it
                break
        (row, col), first = token.end, node.lineno - 1
        indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
        lines[first:row] = [f"{indent}def {node.name}({_params(node.args, source)}):{lines[row - 1][col:]}"]
    return "\n".join(lines)


def _params(args: ast.arguments, source: str) -> str:
    """The parameters as written, less their annotations: `self, lr, momentum=0.0, *, nesterov=False`."""
    default = {id(arg): value for arg, value in zip((args.posonlyargs + args.args)[::-1], args.defaults[::-1])}
    default |= {id(arg): value for arg, value in zip(args.kwonlyargs, args.kw_defaults) if value is not None}

    def one(arg: ast.arg, star: str = "") -> str:
        value = default.get(id(arg))
        return star + arg.arg + ("" if value is None else "=" + ast.get_source_segment(source, value))

    params = [one(arg) for arg in args.posonlyargs] + (["/"] if args.posonlyargs else [])
    params += [one(arg) for arg in args.args]
    params += [one(args.vararg, "*")] if args.vararg else (["*"] if args.kwonlyargs else [])
    params += [one(arg) for arg in args.kwonlyargs] + ([one(args.kwarg, "**")] if args.kwarg else [])
    return ", ".join(params)


# --- The data -------------------------------------------------------------------------------------

IMAGES = '''
def load_images(train):
    """$title as tensors: images (n, $channels, $height, $width) in [0, 1] and labels (n,)."""
    try:  # read from DATA when the files are there, else downloaded into it
        dataset = torchvision.datasets.$tv_class(root=DATA, train=train, download=True)
    except (RuntimeError, OSError) as err:  # offline, and not in DATA
        raise SystemExit(
            f"$title is not in {os.path.abspath(DATA)} and could not be downloaded ({err}). "
            "Connect to the internet for the first run, or set DASHBOARD_DATA to a folder "
            "that holds it (the dashboard's data folder does)."
        ) from None
    X = torch.as_tensor(dataset.data)$to_channels_first.float() / 255
    return X, torch.as_tensor(dataset.targets)


X_train, y_train = load_images(train=True)
X_val, y_val = load_images(train=False)
'''
CAT_DOG = '''
def cat_dog_neither(X, y, generator):
    """CIFAR-10's cats (label 3) and dogs (5), and as many images of its other eight classes.

    New labels: 0 cat, 1 dog, 2 neither; so always answering "neither" scores only a third.
    """
    cats, dogs = (y == 3).nonzero().flatten(), (y == 5).nonzero().flatten()
    others = ((y != 3) & (y != 5)).nonzero().flatten()
    others = others[torch.randperm(len(others), generator=generator)[: len(cats)]]
    idx = torch.cat([cats, dogs, others])
    idx = idx[torch.randperm(len(idx), generator=generator)]
    labels = torch.full((len(y),), 2)
    labels[cats], labels[dogs] = 0, 1
    return X[idx], labels[idx]


generator = torch.Generator().manual_seed(0)  # the same selection every time, whatever the run's seed
X_train, y_train = cat_dog_neither(X_train, y_train, generator)
X_val, y_val = cat_dog_neither(X_val, y_val, generator)
'''
SYNTHETIC = '''
def synthetic_data(w, b, noise, num_examples, generator):
    """d2l 3.3: X ~ N(0, 1) of shape (n, d), y = Xw + b + N(0, noise^2) of shape (n, 1)."""
    X = torch.randn(num_examples, len(w), generator=generator)
    y = X @ w.reshape(-1, 1) + b + noise * torch.randn(num_examples, 1, generator=generator)
    return X, y


true_w, true_b = torch.tensor($w), $b
n = $n  # training examples, and as many again for validation
X, y = synthetic_data(true_w, true_b, $noise, 2 * n, torch.Generator().manual_seed(seed))
X_train, y_train, X_val, y_val = X[:n], y[:n], X[n:], y[n:]
'''
EXAM = '''
# (mean hours of sleep, mean hours of study, mean score, students): 80 who did both, then 30 each who
# slept without studying, studied without sleeping, did a bit of both, and neither
GROUPS = $groups


def exam_scores(generator):
    """200 students: hours of sleep (std 1.5) and study (std 2), and their score (std 1); (200, 2) and (200, 1)."""
    rows = [
        torch.cat(
            [
                torch.normal(sleep, 1.5, (n, 1), generator=generator),
                torch.normal(study, 2.0, (n, 1), generator=generator),
                torch.normal(score, 1.0, (n, 1), generator=generator),
            ],
            dim=1,
        )
        for sleep, study, score, n in GROUPS
    ]
    table = torch.cat(rows)[torch.randperm(200, generator=generator)]  # shuffled before the split
    return table[:, :2], table[:, 2:]


X, y = exam_scores(torch.Generator().manual_seed(seed))
X_train, y_train, X_val, y_val = X[40:], y[40:], X[:40], y[:40]  # the first 20% for validation
'''
STATS = "mean, std = X_train.mean(dim=(0, 2, 3)), X_train.std(dim=(0, 2, 3))  # (C,): each channel's, every image"
TO_DEVICE = """
X_train, y_train, X_val, y_val = (t.to(device) for t in (X_train, y_train, X_val, y_val))
print(f"{len(X_train)} training and {len(X_val)} validation examples of shape {tuple(X_train.shape[1:])}")
"""


def _data(config: RunConfig) -> tuple[str, str]:
    """(markdown, code) that leave X_train, y_train, X_val, y_val on the device."""
    key = config.dataset
    if key == "synthetic":
        text = f"d2l's synthetic data: y = Xw + b plus noise of standard deviation {config.noise:g}."
        w = [float(v) for v in config.true_w]  # floats, so that torch.tensor(w) is float32 even for w = (2, 3)
        code = _fill(SYNTHETIC, w=w, b=float(config.true_b), n=config.num_examples, noise=float(config.noise))
    elif key == "exam":
        text = "Exam scores from hours of sleep and study (generated, as on the dashboard)."
        groups = "[\n" + "".join(f"    {g},\n" for g in datasets.EXAM_SCENARIOS) + "]"
        code = _fill(EXAM, groups=groups)
    else:
        base = datasets.IMAGE_SETS["cifar10" if key == datasets.CATDOG.key else key]
        channels, height, width, _ = IMAGE_SHAPES[key]
        # torchvision keeps (n, H, W) for grey images and (n, H, W, C) numpy arrays for colour ones
        layout = ".unsqueeze(1)" if channels == 1 else ".permute(0, 3, 1, 2)"
        text = (
            f"{base.title} ({base.size_note}), downloaded by torchvision into the folder `DATA` on the first run, "
            "then held as tensors: a batch is a slice of them."
        )
        code = _fill(
            IMAGES,
            title=base.title,
            tv_class=base.tv_class,
            channels=channels,
            height=height,
            width=width,
            to_channels_first=layout,
        )
        if key == datasets.CATDOG.key:
            code += "\n\n\n" + _fill(CAT_DOG)
            text += " Only cats, dogs and as many other images are kept."
    if config.normalize:
        code += "\n" + STATS
        text += " Each channel's mean and standard deviation over all its training images normalise the inputs."
    if config.train_examples:
        code += f"\nX_train, y_train = X_train[:{config.train_examples}], y_train[:{config.train_examples}]"
        text += f" Only the first {config.train_examples:,} training examples are used."
    return text, code + "\n" + _fill(TO_DEVICE)


# --- The models -----------------------------------------------------------------------------------
# core.models' own classes, so that the script builds the run's network: the same layers, drawn in the same order.

INIT_NORMAL = """
with torch.no_grad():  # every weight and bias drawn again, from N(0, $std^2)
    for param in net.parameters():
        param.copy_(torch.randn(param.shape) * $std)
"""


INIT_ZERO = """
with torch.no_grad():  # every weight and bias starts at 0
    for param in net.parameters():
        param.zero_()
"""


CHANNELS_LAST = "net = net.to(memory_format=torch.channels_last)  # convolutions run faster on (n, H, W, C) in memory"


def channels_last_in_script(config: RunConfig) -> bool:
    """Whether the script turns its ResNet channels-last: as `build_model` does, so never where a stage's strided 1x1
    shortcut has fewer than SIMD_FLOATS input channels (the width of the stage before it; ResNet-18's are 64+)."""
    return config.model == "resnet18" or config.resnet_stages == 1 or config.resnet_width >= SIMD_FLOATS


def _model(config: RunConfig) -> tuple[str, str]:
    """(markdown, code) that define `net` on the device, and draw its weights anew when the run asks."""
    text, code = _network(config)
    if config.normalize:  # core.models' own class, as the run used it
        code += f"\n\n\n{_source(Normalized)}\n\n\nnet = Normalized(net, mean, std).to(device)"
    if config.init_std:
        std = f"{config.init_std:g}"
        text += f" Every weight and bias is then drawn again from a normal distribution with mean 0 and std {std}."
        code += "\n" + _fill(INIT_NORMAL, std=repr(float(config.init_std)))
    if config.zero_init:
        text += " Every weight and bias then starts at 0."
        code += "\n" + INIT_ZERO.strip("\n") + "\n"
    if config.model in ("resnet", "resnet18") and channels_last_in_script(config):
        code += "\n" + CHANNELS_LAST
    return text, code


def _network(config: RunConfig) -> tuple[str, str]:
    """(markdown, code) that define `net` on the device."""
    scratch, family = config.scratch, config.model
    if config.dataset in IMAGE_SHAPES:
        channels, height, width, num_outputs = IMAGE_SHAPES[config.dataset]
        num_inputs = channels * height * width
    else:
        num_inputs = len(config.true_w) if config.dataset == "synthetic" else 2
    how = "from scratch: explicit parameters" if scratch else "concise: torch.nn layers"
    if family in ("linear", "softmax"):
        cls = {
            "linear": (LinearRegression, LinearRegressionScratch),
            "softmax": (SoftmaxRegression, SoftmaxRegressionScratch),
        }
        model = cls[family][scratch]
        outputs = "" if family == "linear" else f", num_outputs={num_outputs}"
        return f"{MODELS[family]}, {how}.", _built([model], f"{model.__name__}(num_inputs={num_inputs}{outputs})")
    if family == "mlp":
        sizes = layer_sizes(num_inputs, num_outputs, config.num_hiddens, config.num_layers)
        text = f"A multilayer perceptron {'-'.join(map(str, sizes))} with {config.activation}, {how}."
        model, act = (MLPScratch if scratch else MLP), config.activation
        sizes_args = f"num_hiddens={config.num_hiddens}, num_layers={config.num_layers}"
        call = f'{model.__name__}({num_inputs}, {num_outputs}, {sizes_args}, activation="{act}")'
        if not scratch:
            return text, _built([layer_sizes, MLP], call)
        # only the run's activation, written out, in core.ops' table of (from scratch, PyTorch)
        activations = _source(*ACTIVATIONS_SCRATCH[act]) + f'\n\n\nACTIVATIONS = {{"{act}": ({act}, torch.{act})}}'
        return text, activations + "\n\n\n" + _built([layer_sizes, MLPScratch], call)
    if family == "resnet18" and not scratch:
        call = f"resnet18_torchvision(in_channels={channels}, num_classes={num_outputs})"
        return "torchvision's ResNet-18 with a stem for small images.", _built([resnet18_torchvision], call)
    widths, blocks = (RESNET18["widths"], RESNET18["blocks"]) if family == "resnet18" else resnet_shape(config)
    shape = f"in_channels={channels}, num_classes={num_outputs}, widths={widths}, blocks={blocks}"
    if scratch:
        code = _built([Residual, ResNet], f"ResNet({shape})")
    else:
        code = _built([basic_block, ResNet, resnet_concise], f"resnet_concise({shape})")
    block = "the residual block written out" if scratch else "torchvision's residual block"
    return f"{MODELS[family]}: stages of widths {', '.join(map(str, widths))}, {block}.", code


def _built(objects, call: str) -> str:
    """The source of core.models' classes and functions, then `net` made by `call` from the run's seed."""
    return _source(*objects) + f"\n\n\ntorch.manual_seed(seed)\nnet = {call}.to(device)"


# --- The loss and the optimizer ---------------------------------------------------------------------

PROB_MSE = '''
def $name(O, y):
    """Squared error between the $squash probabilities (n, q) and the one-hot labels y (n,)."""
    return mse($squash(O), one_hot(y, O.shape[1]))
'''
LOSSES_CONCISE = {
    "mse": "loss = nn.MSELoss()",
    "cross_entropy": "loss = nn.CrossEntropyLoss()  # softmax and log in one stable step",
    "softmax_mse": '''
def softmax_mse(y_hat, y):
    """Squared error between the softmax probabilities (n, q) and the one-hot labels."""
    return F.mse_loss(F.softmax(y_hat, dim=1), F.one_hot(y, y_hat.shape[1]).float())


loss = softmax_mse
''',
    "sigmoid_mse": '''
def sigmoid_mse(y_hat, y):
    """Squared error between per-class sigmoid probabilities (n, q) and the one-hot labels."""
    return F.mse_loss(torch.sigmoid(y_hat), F.one_hot(y, y_hat.shape[1]).float())


loss = sigmoid_mse
''',
}


def _loss(config: RunConfig, defined: set[str]) -> tuple[str, str]:
    """(markdown, code) that define `loss`; a from-scratch function already in `defined` is not repeated."""
    name = config.loss_name
    text = f"The loss: {LOSS_NAMES[name]}."
    smoothing = config.label_smoothing
    if smoothing:
        text += f" Label smoothing {smoothing:g}: the target is {1 - smoothing:g} on the true class plus {smoothing:g}"
        text += " spread evenly over all classes, so the model is never pushed to certainty."
    if not config.scratch:
        if smoothing:
            return text, f"loss = nn.CrossEntropyLoss(label_smoothing={smoothing!r})"
        return text, _fill(LOSSES_CONCISE[name])
    functions = [f for f in LOSSES_SCRATCH[name] if f.__name__ not in defined]
    code = _source(*functions)
    if name in ("softmax_mse", "sigmoid_mse"):
        code += "\n\n\n" + _fill(PROB_MSE, name=name, squash=name.removesuffix("_mse"))
    if smoothing:
        return (
            text,
            code + f"\n\n\ndef loss(y_hat, y):\n    return cross_entropy(y_hat, y, label_smoothing={smoothing!r})",
        )
    return text, code + f"\n\n\nloss = {name}"


def _optimizer(config: RunConfig) -> tuple[str, str]:
    """(markdown, code) that define `optimizer`, and `scheduler` when the lr follows a schedule."""
    name = config.optimizer
    text = f"The optimizer: {_optimizer_name(config)}, lr = {config.lr:g}"
    options = ""
    if name in ("momentum", "nesterov"):
        options += f", momentum={config.momentum!r}" + (", nesterov=True" if name == "nesterov" else "")
    if config.weight_decay:
        options += f", weight_decay={config.weight_decay!r}"
        text += f", weight decay {config.weight_decay:g}"
    if name == "adam":
        code = f"optimizer = torch.optim.Adam(net.parameters(), lr=lr{options})"
    elif config.scratch:
        code = _source(optim.SGD) + f"\n\n\noptimizer = SGD(net.parameters(), lr=lr{options})"
    else:
        code = f"optimizer = torch.optim.SGD(net.parameters(), lr=lr{options})"
    if config.lr_schedule == "constant":
        return text + ", the same at every step.", code
    text += (
        f". The one-cycle schedule: the lr rises from {config.lr / 25:.2g} to {config.lr:g} over the first 30% of the "
        "steps, then falls to almost 0, along half a cosine each way; big steps in the middle, small ones at the end."
    )
    # the steps data_iter takes: a ragged last batch is one more, unless it is dropped
    steps = "steps_per_epoch = len(X_train) // batch_size if drop_last else math.ceil(len(X_train) / batch_size)"
    if config.scratch:
        schedule = _source(optim.set_lr, optim.OneCycle)
        code += f"\n\n\n{schedule}\n\n\n{steps}\nscheduler = OneCycle(optimizer, lr, steps_per_epoch * num_epochs)"
    else:
        code += (
            f"\n{steps}\nscheduler = torch.optim.lr_scheduler.OneCycleLR(\n"
            "    optimizer, lr, total_steps=steps_per_epoch * num_epochs, cycle_momentum=False\n)"
        )
    return text, code


# --- The training loop --------------------------------------------------------------------------------

TRAIN = '''
def data_iter(X, y, batch_size, generator, drop_last=False):
    """The examples in a new random order, batch_size at a time (d2l 3.2); drop_last leaves out a ragged last batch."""
    indices = torch.randperm(len(X), generator=generator).to(X.device)
    end = len(X) - batch_size + 1 if drop_last and len(X) >= batch_size else len(X)
    for i in range(0, end, batch_size):
        batch = indices[i : i + batch_size]
        yield X[batch], y[batch]


def evaluate(net, X, y, batch_size=256):
    """$evaluate_doc"""
    net.eval()  # (batch norm, where there is any, uses its running statistics)
    with torch.no_grad():
        y_hat = torch.cat([net(X[i : i + batch_size]) for i in range(0, len(X), batch_size)])
    net.train()
    $evaluate_return


shuffler = torch.Generator().manual_seed(seed)  # the order of the examples, epoch after epoch
for epoch in range(num_epochs):
    net.train()
    total, num_batches = 0.0, 0
    for X, y in data_iter(X_train, y_train, batch_size, shuffler, drop_last):
        l = loss(net(X), y)
        optimizer.zero_grad()
        l.backward()
        optimizer.step()$schedule_step
        total, num_batches = total + l.item(), num_batches + 1
    train_loss = total / num_batches
    $report
'''
CLASSIFY = dict(
    evaluate_doc="Mean loss and accuracy on (X, y).",
    evaluate_return="return loss(y_hat, y).item(), (y_hat.argmax(dim=1) == y).float().mean().item()",
    report="""val_loss, val_acc = evaluate(net, X_val, y_val)
    print(f"epoch {epoch + 1}, train loss {train_loss:.4f}, val loss {val_loss:.4f}, val accuracy {val_acc:.4f}")""",
)
REGRESS = dict(
    evaluate_doc="Mean loss on (X, y).",
    evaluate_return="return loss(y_hat, y).item()",
    report='print(f"epoch {epoch + 1}, train loss {train_loss:.4f}, val loss {evaluate(net, X_val, y_val):.4f}")',
)
LEARNED = "w, b = net.w.detach().reshape(-1), net.b.detach()"  # both twins keep w (d, 1) and b (1,)


def _training(config: RunConfig) -> tuple[str, str]:
    classify = config.dataset not in datasets.TABLE_SETS
    step = "\n        scheduler.step()" if config.lr_schedule != "constant" else ""
    code = _fill(TRAIN, schedule_step=step, **(CLASSIFY if classify else REGRESS))
    text = "Train: minibatches in a fresh random order each epoch, then the validation loss"
    if classify:
        return text + " and accuracy.", code
    code += "\n\n" + LEARNED + '\nprint(f"learned w {w.tolist()}, b {b.item():.4f}")'
    if config.dataset == "synthetic":
        code += '\nprint(f"error in estimating w: {(true_w - w.cpu()).tolist()}, b: {true_b - b.item():.4f}")'
    return text + "; finally the learned parameters.", code


# --- Putting it together --------------------------------------------------------------------------


def _settings(config: RunConfig, root: str) -> str:
    device = {
        "auto": 'torch.device("cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() '
        'else "cpu")',
    }.get(config.device, f'torch.device("{config.device}")')
    lines = [
        f"lr, batch_size, num_epochs, seed = {config.lr!r}, {config.batch_size}, {config.epochs}, {config.seed}",
        f"device = {device}",
    ]
    if config.model in ("resnet", "resnet18"):  # the models with batch norm
        lines.append("drop_last = True  # a ragged last batch of a few images would drag batch norm's statistics")
    else:
        lines.append("drop_last = False")
    if config.dataset not in datasets.TABLE_SETS:
        lines.append(
            "# where the dataset is read from: $DASHBOARD_DATA, else the dashboard's data folder (where this was\n"
            "# exported), else data/ beside it, into which torchvision downloads it on the first run\n"
            "DATA = next(\n"
            f'    (d for d in (os.environ.get("DASHBOARD_DATA"), {json.dumps(root)}) if d and os.path.isdir(d)),\n'
            '    "data",\n'
            ")"
        )
    return "\n".join(lines)


def _imports(code: str) -> str:
    """Only the imports the code uses, so that it reads (and lints) as written by hand."""
    stdlib = [f"import {m}" for m in ("math", "os") if re.search(rf"\b{m}\.", code)]
    lines = [*stdlib, ""] if stdlib else []  # the standard library first
    lines.append("import torch")
    if re.search(r"\btorchvision\.", code):
        lines.append("import torchvision")
    lines.append("from torch import nn")
    if re.search(r"\bF\.", code):
        lines.append("from torch.nn import functional as F")
    return "\n".join(lines)


def _title(config: RunConfig) -> str:
    tables = {"synthetic": "synthetic data y = Xw + b + noise", "exam": "exam scores from sleep and study"}
    data = tables.get(config.dataset) or (
        datasets.CATDOG.title if config.dataset == datasets.CATDOG.key else datasets.IMAGE_SETS[config.dataset].title
    )
    return f"{MODELS[config.model]} on {data}"


def _summary(config: RunConfig) -> str:
    impl = "from scratch" if config.scratch else "concise (torch.nn)"
    return (
        f"{impl}, lr {config.lr:g}, batch size {config.batch_size}, {config.epochs} epoch"
        f"{'s' * (config.epochs > 1)}, seed {config.seed}, {_optimizer_name(config)}, "
        f"{LOSS_NAMES[config.loss_name]}" + "".join(f", {part}" for part in recipe_parts(config))
    )


def sections(config: RunConfig, root: str | None = None) -> list[tuple[str, str]]:
    """The program as (markdown, code) pairs: the notebook's cells, and the script's paragraphs."""
    if not isinstance(config, RunConfig):
        raise TypeError(f"need a RunConfig, got {type(config).__name__}")
    if config.dataset not in (*IMAGE_SHAPES, "synthetic", "exam"):
        raise ValueError(f"the dataset {config.dataset!r} exists only in this browser session, not as a file to load")
    if config.loss_name == "mse" and config.dataset not in datasets.TABLE_SETS:
        raise ValueError("the squared loss 'mse' needs numbers to predict; for classes use softmax_mse or sigmoid_mse")
    model = _model(config)
    defined = set(re.findall(r"^def (\w+)\(", model[1], flags=re.M))
    parts = [_data(config), model, _loss(config, defined), _optimizer(config), _training(config)]
    body = "\n".join(code for _, code in parts)
    root = str(datasets.data_dir().resolve()) if root is None else root
    settings_code = _settings(config, root)
    settings = ("The run's settings.", _imports(body + settings_code) + "\n\n" + settings_code)
    return [settings, *parts]


def _docstring(config: RunConfig) -> str:
    where = (
        ""
        if config.dataset in datasets.TABLE_SETS
        else (
            "\nIt reads the dataset from the dashboard's data folder when it is there (or from $DASHBOARD_DATA),\n"
            "else torchvision downloads it into data/ beside it on its first run."
        )
    )
    return (
        f'"""{_title(config)}, exported from the deep-learning dashboard.\n\n'
        f"{fill('Settings: ' + _summary(config) + '.', 100, break_on_hyphens=False)}\n"
        "Plain PyTorch and torchvision: the same model, seed and order of examples as the dashboard's run.\n"
        f"Run it with `python {file_name(config)}.py`.{where}\n"
        '"""'
    )


def _join(blocks: list[str]) -> str:
    """Blocks of code one blank line apart, or two around a def or a class (PEP 8)."""
    text = blocks[0]
    for block in blocks[1:]:
        last_line = text.rsplit("\n", 1)[-1]
        gap = 2 if block.startswith(("def ", "class ", "@")) or last_line.startswith((" ", ")")) else 1
        text += "\n" * (gap + 1) + block
    return text


def to_script(config: RunConfig, root: str | None = None) -> str:
    """The run as a Python script: `python <file>.py` trains it and prints each epoch."""
    return _docstring(config) + "\n\n" + _join([code for _, code in sections(config, root)]) + "\n"


def _cell(kind: str, text: str) -> dict:
    lines = text.splitlines(keepends=True)
    cell = {"cell_type": kind, "metadata": {}, "source": lines}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def to_notebook(config: RunConfig, root: str | None = None) -> str:
    """The run as a Jupyter notebook (nbformat 4): a markdown cell before each code cell."""
    intro = f"# {_title(config)}\n\nExported from the deep-learning dashboard. Settings: {_summary(config)}."
    intro += (
        "\n\nOpen it in Jupyter (`pip install notebook`, then `jupyter notebook` in this folder), VS Code or Google"
        " Colab; it needs `torch` and `torchvision`."
    )
    cells = [_cell("markdown", intro)]
    for text, code in sections(config, root):
        cells += [_cell("markdown", text), _cell("code", code)]
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 4,  # 4.5 would want an id on every cell
    }
    return json.dumps(notebook, indent=1) + "\n"


def file_name(config: RunConfig) -> str:
    """A name for the downloaded file, without extension: e.g. softmax_concise_fashion_mnist."""
    return f"{config.model}_{config.implementation}_{config.dataset}"
