"""The baselines: the article's ``TwoLayerMLP`` gradient by hand, by HIPS autograd, by PyTorch.

The hand-written version keeps the article's formulas and its clipped sigmoid,
written well: the activations are stored and σ' is ``A(1 − A)`` from them (the
article's ``sigmoid_grad(Z)`` recomputes σ), and nothing is updated in place.
The loss is the squared error summed over outputs and averaged over the batch,
whose gradient the article's ``dA2 = 2 (A2 − y) / m`` is.
"""
from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-np.clip(x, -500, 500)))


def hand_loss_and_grad(X, Y, W1, b1, W2, b2):
    """Loss and gradients of the 2-layer sigmoid MLP, as the article derives them."""
    m = X.shape[0]
    Z1 = X @ W1 + b1
    A1 = sigmoid(Z1)
    Z2 = A1 @ W2 + b2
    A2 = sigmoid(Z2)
    E = A2 - Y
    loss = np.sum(E * E) / m

    dA2 = (2 / m) * E
    dZ2 = dA2 * A2 * (1 - A2)
    dW2 = A1.T @ dZ2
    db2 = dZ2.sum(axis=0)
    dA1 = dZ2 @ W2.T
    dZ1 = dA1 * A1 * (1 - A1)
    dW1 = X.T @ dZ1
    db1 = dZ1.sum(axis=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def autograd_loss_and_grad():
    """The same forward pass differentiated by HIPS autograd."""
    import autograd
    import autograd.numpy as anp

    def loss(params, X, Y):
        W1, b1, W2, b2 = params
        A1 = 1 / (1 + anp.exp(-anp.clip(X @ W1 + b1, -500, 500)))
        A2 = 1 / (1 + anp.exp(-anp.clip(A1 @ W2 + b2, -500, 500)))
        E = A2 - Y
        return anp.sum(E * E) / X.shape[0]

    value_and_grad = autograd.value_and_grad(loss)

    def run(X, Y, W1, b1, W2, b2):
        value, (dW1, db1, dW2, db2) = value_and_grad((W1, b1, W2, b2), X, Y)
        return value, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}

    return run


def torch_loss_and_grad():
    """The same forward pass in PyTorch eager mode (float64, CPU)."""
    import torch

    def run(X, Y, W1, b1, W2, b2):
        A1 = torch.sigmoid(X @ W1 + b1)
        A2 = torch.sigmoid(A1 @ W2 + b2)
        E = A2 - Y
        loss = (E * E).sum() / X.shape[0]
        grads = torch.autograd.grad(loss, (W1, b1, W2, b2))
        return loss, dict(zip(("W1", "b1", "W2", "b2"), grads))

    return run
