"""Multilayer perceptron (d2l 5.1-5.2): hidden layers of `num_hiddens` units and an activation.

The from-scratch model keeps each layer as a weight matrix and bias (`Ws[0]`, `bs[0]`: d2l's W1, b1; ...) and
applies ReLU / sigmoid / tanh written by hand (core.ops); the concise twin is nn.Sequential of
nn.Linear layers. With one hidden layer of 256 and ReLU this is d2l's 784-256-10 network.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from core.ops import ACTIVATIONS


def layer_sizes(num_inputs: int, num_outputs: int, num_hiddens: int, num_layers: int) -> list[int]:
    return [num_inputs, *[num_hiddens] * num_layers, num_outputs]


class MLPScratch(nn.Module):
    def __init__(
        self, num_inputs: int, num_outputs: int, num_hiddens: int = 256, num_layers: int = 1, activation: str = "relu"
    ):
        super().__init__()
        self.activation = ACTIVATIONS[activation][0]
        sizes = layer_sizes(num_inputs, num_outputs, num_hiddens, num_layers)
        self.Ws = nn.ParameterList()
        self.bs = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            # U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the range nn.Linear draws from: deep nets still train
            bound = 1 / math.sqrt(fan_in)
            self.Ws.append(nn.Parameter(torch.empty(fan_in, fan_out).uniform_(-bound, bound)))
            self.bs.append(nn.Parameter(torch.empty(fan_out).uniform_(-bound, bound)))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        H = X.reshape(-1, self.Ws[0].shape[0])  # (n, d)
        for W, b in zip(self.Ws[:-1], self.bs[:-1]):
            H = self.activation(H @ W + b)  # (n, num_hiddens)
        return H @ self.Ws[-1] + self.bs[-1]  # (n, q) logits


class MLP(nn.Module):
    def __init__(
        self, num_inputs: int, num_outputs: int, num_hiddens: int = 256, num_layers: int = 1, activation: str = "relu"
    ):
        super().__init__()
        act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[activation]
        sizes = layer_sizes(num_inputs, num_outputs, num_hiddens, num_layers)
        layers: list[nn.Module] = [nn.Flatten()]
        for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
            layers += [nn.Linear(fan_in, fan_out), act()]
        layers.append(nn.Linear(sizes[-2], sizes[-1]))
        self.net = nn.Sequential(*layers)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.net(X)

    def linears(self) -> list[nn.Linear]:
        return [m for m in self.net if isinstance(m, nn.Linear)]
