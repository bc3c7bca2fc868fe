"""完整训练循环: the article's training loop, in NumPy around symbackprop's gradient.

The article's last program classifies 200 points of ``np.random.seed(0)``
(``randn``, class 1 outside the unit circle) with a 2-16-8-1 ReLU network,
sigmoid output, ``nn.BCELoss``, Adam (lr 0.01), batches of 32, shuffled, 100
epochs, printing every 20 epochs. Here the same loop is written in NumPy: the
network is ``derivations/circle_relu_bce.toml``, ``loss.backward()`` is the
gradient symbackprop derives for it, and Adam is the dozen lines below
(PyTorch's update, its defaults β = (0.9, 0.999), ε = 1e-8). Weights start as
``nn.Linear`` starts them (uniform in ±1/√fan_in).

When torch is installed, the article's ``nn.Sequential`` + ``BCELoss`` +
``optim.Adam`` is run from the same weights on the same batches (in float64),
and the two runs must agree epoch by epoch.

    python examples/training_loop.py [--plot loss.png]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import symbackprop as sb
from symbackprop.analysis import exported_gradient, node_values
from plotting import pyplot, save

SPEC = Path(__file__).resolve().parent.parent / "derivations" / "circle_relu_bce.toml"
SIZES = (2, 16, 8, 1)
N, BATCH, EPOCHS, LR = 200, 32, 100, 0.01


def circle_data() -> tuple[np.ndarray, np.ndarray]:
    """The article's data set: the same draws, float32 as it makes them."""
    np.random.seed(0)
    X = np.random.randn(N, 2).astype(np.float32)
    # 非线性边界：内圆为类0，外圆为类1
    r = np.sqrt(X[:, 0] ** 2 + X[:, 1] ** 2)
    y = (r > 1.0).astype(np.float32).reshape(-1, 1)
    return X.astype(float), y.astype(float)


def linear_init(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``nn.Linear``'s default initialisation: weights and biases uniform in ±1/√fan_in."""
    params = {}
    for k, (fan_in, fan_out) in enumerate(zip(SIZES, SIZES[1:]), start=1):
        bound = 1 / np.sqrt(fan_in)
        params[f"W_{k}"] = rng.uniform(-bound, bound, size=(fan_in, fan_out))
        params[f"b_{k}"] = rng.uniform(-bound, bound, size=fan_out)
    return params


class Adam:
    """``torch.optim.Adam`` (no weight decay, no amsgrad) on a dict of arrays."""

    def __init__(self, params: dict[str, np.ndarray], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = {p: np.zeros_like(v) for p, v in params.items()}  # 动量 (first moment)
        self.v = {p: np.zeros_like(v) for p, v in params.items()}  # 自适应学习率 (second moment)
        self.t = 0

    def step(self, grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        b1, b2 = self.betas
        for p, g in grads.items():
            self.m[p] = b1 * self.m[p] + (1 - b1) * g
            self.v[p] = b2 * self.v[p] + (1 - b2) * g * g
            m_hat = self.m[p] / (1 - b1 ** self.t)
            v_hat = self.v[p] / (1 - b2 ** self.t)
            self.params[p] = self.params[p] - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def predict(network, params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The network's output A_3: the spec's own forward pass."""
    return node_values(network, {"X": X, "Y": y, **params}, names=["A_3"])["A_3"]


def batches(rng: np.random.Generator, epochs: int) -> list[list[np.ndarray]]:
    """The shuffled batch indices of every epoch (``DataLoader(batch_size=32, shuffle=True)``)."""
    return [np.array_split(perm, range(BATCH, N, BATCH)) for perm in
            (rng.permutation(N) for _ in range(epochs))]


def train(params, X, y, schedule, network=None, report=print) -> list[float]:
    """The article's loop (``network``: the spec's by default); the mean batch loss of every epoch."""
    network = network or sb.load_spec(SPEC).network
    loss_and_grad = exported_gradient(network)
    optimizer = Adam(params, lr=LR)
    history = []
    for epoch, epoch_batches in enumerate(schedule):
        total_loss = 0.0
        for idx in epoch_batches:
            loss, grads = loss_and_grad(X=X[idx], Y=y[idx], **optimizer.params)  # 前向 + 反向传播
            optimizer.step(grads)                                                # 梯度下降：更新参数
            total_loss += loss
        history.append(total_loss / len(epoch_batches))
        if (epoch + 1) % 20 == 0:
            acc = np.mean((predict(network, optimizer.params, X, y) > 0.5) == y)
            report(f"Epoch {epoch + 1:3d} | Loss: {history[-1]:.4f} | Acc: {acc:.3f}")
    params.update(optimizer.params)
    return history


def train_torch(params, X, y, schedule) -> list[float] | None:
    """The article's PyTorch loop from the same weights and batches, in float64; None without torch."""
    try:
        import torch
        import torch.nn as nn
        import torch.optim as optim
    except ImportError:
        return None
    model = nn.Sequential(
        nn.Linear(2, 16),
        nn.ReLU(),
        nn.Linear(16, 8),
        nn.ReLU(),
        nn.Linear(8, 1),
        nn.Sigmoid()
    ).double()
    with torch.no_grad():  # nn.Linear stores W transposed: out × in
        for k, layer in enumerate((model[0], model[2], model[4]), start=1):
            layer.weight.copy_(torch.from_numpy(params[f"W_{k}"].T))
            layer.bias.copy_(torch.from_numpy(params[f"b_{k}"]))
    optimizer = optim.Adam(model.parameters(), lr=LR)
    criterion = nn.BCELoss()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    history = []
    for epoch_batches in schedule:
        total_loss = 0
        for idx in epoch_batches:
            xb, yb = X_t[idx], y_t[idx]
            optimizer.zero_grad()   # 清空上一步的梯度
            pred = model(xb)        # 前向传播
            loss = criterion(pred, yb)
            loss.backward()         # 反向传播：计算所有参数的梯度
            optimizer.step()        # 梯度下降：更新参数
            total_loss += loss.item()
        history.append(total_loss / len(epoch_batches))
    return history


def plot(path: str, history: list[float], torch_history: list[float] | None) -> bool:
    """The mean batch loss of every epoch; False without matplotlib."""
    plt = pyplot(path)
    if plt is None:
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = range(1, len(history) + 1)
    ax.semilogy(epochs, history, label="NumPy + symbackprop's gradient")
    if torch_history is not None:
        ax.semilogy(epochs, torch_history, "--", label="the article's PyTorch loop")
    ax.set_xlabel("epoch")
    ax.set_ylabel("binary cross-entropy")
    ax.set_title("Circle data, ReLU 2-16-8-1, Adam lr 0.01")
    ax.legend()
    save(fig, path)
    return True


def main(fast: bool = False, plot_to: str | None = None) -> dict:
    """Train, printing every 20 epochs; return the final loss and accuracy.

    ``fast`` changes nothing: 100 epochs take well under a second.
    """
    X, y = circle_data()
    rng = np.random.default_rng(0)
    initial = linear_init(rng)
    schedule = batches(rng, EPOCHS)
    print(f"circle data: N = {N}, class 1 (r > 1): {int(y.sum())} points; network "
          f"{'-'.join(map(str, SIZES))} ReLU, sigmoid output, BCE ({SPEC.name})")
    print(f"Adam lr {LR}, batch {BATCH}, shuffled, {EPOCHS} epochs; gradient: symbackprop's\n")
    params = dict(initial)
    network = sb.load_spec(SPEC).network
    history = train(params, X, y, schedule, network)
    accuracy = float(np.mean((predict(network, params, X, y) > 0.5) == y))

    torch_history = train_torch(initial, X, y, schedule)
    if torch_history is None:
        gap = None
        print("\ntorch is not installed: the article's PyTorch loop is not run beside it")
    else:
        gap = max(abs(a - b) for a, b in zip(history, torch_history))
        print(f"\nthe article's PyTorch loop (nn.Sequential, BCELoss, optim.Adam), same weights and "
              f"batches, float64:\nepoch losses agree to {gap:.1e} "
              f"(final {torch_history[-1]:.6f} vs {history[-1]:.6f})")
    print(f"\nfinal accuracy on the {N} points: {accuracy:.3f} (the article prints no figures for this loop)")
    if plot_to:
        plot(plot_to, history, torch_history)
    return {"final_loss": history[-1], "accuracy": accuracy, "losses": history,
            "torch_max_difference": gap}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="accepted for uniformity; no effect")
    parser.add_argument("--plot", metavar="FILE", help="save the loss curve (PNG)")
    args = parser.parse_args()
    main(fast=args.fast, plot_to=args.plot)
