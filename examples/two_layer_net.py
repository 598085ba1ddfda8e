"""A two-layer network with `@`, trained by ONE compiled function for the loss and its gradients.

Two interleaved half-moons, classified by ``sigmoid(tanh(X @ W1 + b1) @ W2 + b2)`` with the binary
cross-entropy written stably (``logaddexp(0, z) - y z``). The graph of the loss and of its gradients with
respect to the four parameters is built once over placeholders; `xpgrad.function` plans it once; the loop
only calls it with new arrays and takes a gradient step. The loss curve is drawn to a PNG with matplotlib
where it is installed. Runs on any backend (``--backend cupy`` on a GPU):

    python examples/two_layer_net.py --steps 500 --hidden 16 --png loss.png
"""

from __future__ import annotations

import argparse

import numpy as np

import xpgrad


def moons(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of two interleaved half-circles with a little noise, and their labels (0 or 1)."""
    t = rng.uniform(0.0, np.pi, size=n)
    label = rng.integers(0, 2, size=n)
    x = np.where(label == 0, np.cos(t), 1.0 - np.cos(t))
    y = np.where(label == 0, np.sin(t), 0.5 - np.sin(t))
    return np.stack([x, y], axis=1) + 0.1 * rng.normal(size=(n, 2)), label.astype(np.float64)


def model(backend: object, hidden: int) -> tuple[list[xpgrad.Tensor], xpgrad.Tensor, xpgrad.Tensor]:
    """The placeholders (data, then parameters), the loss and the predicted probabilities, as graphs."""

    def ph(name: str, shape: tuple[int | None, ...]) -> xpgrad.Tensor:
        return xpgrad.placeholder(shape=shape, dtype="float64", backend=backend, name=name)

    X, Y = ph("X", (None, 2)), ph("Y", (None,))
    W1, b1, W2, b2 = ph("W1", (2, hidden)), ph("b1", (hidden,)), ph("W2", (hidden,)), ph("b2", ())
    z = xpgrad.tanh(X @ W1 + b1) @ W2 + b2  # the logits, one per row
    loss = xpgrad.mean(xpgrad.logaddexp(0.0, z) - Y * z)  # binary cross-entropy of sigmoid(z)
    return [X, Y, W1, b1, W2, b2], loss, 1 / (1 + xpgrad.exp(-z))


def train(
    steps: int = 500, hidden: int = 16, lr: float = 0.5, n: int = 400, backend: str = "numpy", every: int = 0
) -> tuple[list[float], float]:
    """Train; returns the loss at each step and the final accuracy on the training points."""
    bk = xpgrad.get_backend(backend)
    rng = np.random.default_rng(0)
    x, y = moons(n, rng)
    inputs, loss, prob = model(bk, hidden)
    step = xpgrad.function(inputs, [loss, *xpgrad.grad(loss, inputs[2:])])
    predict = xpgrad.function(inputs[:1] + inputs[2:], prob)
    data = [bk.from_numpy(x, None), bk.from_numpy(y, None)]
    params = [
        bk.from_numpy(rng.normal(size=(2, hidden)), None),
        bk.from_numpy(np.zeros(hidden), None),
        bk.from_numpy(rng.normal(size=hidden) / np.sqrt(hidden), None),
        bk.from_numpy(np.zeros(()), None),
    ]
    curve = []
    for i in range(1, steps + 1):
        value, *grads = step(*data, *params)
        params = [p - lr * g for p, g in zip(params, grads, strict=True)]
        curve.append(float(value))
        if every and (i == 1 or i % every == 0):
            print(f"step {i:5d}  loss {curve[-1]:.4f}")
    accuracy = float(np.mean((bk.to_numpy(predict(data[0], *params)) > 0.5) == (y > 0.5)))
    return curve, accuracy


def draw(curve: list[float], path: str) -> bool:
    """The loss curve as a PNG at ``path``; False where matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(range(1, len(curve) + 1), curve)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (binary cross-entropy)")
    ax.set_title("two-layer network, two moons")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> tuple[list[float], float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--lr", type=float, default=0.5)
    ap.add_argument("--n", type=int, default=400, help="training points")
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--every", type=int, default=100, help="print the loss every N steps (0: never)")
    ap.add_argument("--png", default="", help="draw the loss curve to this PNG (needs matplotlib)")
    args = ap.parse_args(argv)
    curve, accuracy = train(args.steps, args.hidden, args.lr, args.n, args.backend, args.every)
    print(f"final loss {curve[-1]:.4f}, training accuracy {accuracy:.3f}")
    if args.png:
        print(f"loss curve: {args.png}" if draw(curve, args.png) else "loss curve: matplotlib is not installed")
    return curve, accuracy


if __name__ == "__main__":
    main()
