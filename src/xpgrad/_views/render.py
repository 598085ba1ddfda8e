"""Drawing graphs to files (SVG, PNG, PDF) with Graphviz, and as pictures in Jupyter.

Needs the ``graphviz`` Python package (``pip install 'xpgrad[viz]'``) and Graphviz's ``dot``
program; where either is missing the error says what to install. Graphs above ``max_nodes`` are
refused: a picture of thousands of nodes is unreadable, and ``dot`` takes minutes on them.
"""

from __future__ import annotations

from pathlib import Path

from .._core.tensor import Tensor
from .._core.walk import toposort
from .dot import to_dot

__all__ = ["GraphvizUnavailableError", "render", "svg"]

MAX_NODES = 5000
_INSTALL_DOT = (
    "install Graphviz's dot program: apt-get install graphviz (Debian/Ubuntu), "
    "conda install -c conda-forge graphviz, or brew install graphviz (macOS)"
)


class GraphvizUnavailableError(RuntimeError):
    """The graphviz Python package or Graphviz's ``dot`` program is missing."""


def _check_size(tensors: tuple[Tensor, ...], max_nodes: int) -> None:
    n = len(toposort(tensors))
    if n > max_nodes:
        raise ValueError(
            f"render: the graph has {n} nodes, more than max_nodes={max_nodes}; draw a subgraph (e.g. "
            "render(t.children[0], path=...) or a smaller example), print it with xpgrad.show(t), or "
            "pass a larger max_nodes"
        )


def _pipe(dot_text: str, fmt: str) -> bytes:
    try:
        import graphviz
    except ImportError as e:
        raise GraphvizUnavailableError(
            f"render: the graphviz Python package is not installed; pip install 'xpgrad[viz]' (or pip install "
            f"graphviz), and {_INSTALL_DOT}"
        ) from e
    try:
        return graphviz.Source(dot_text).pipe(format=fmt)
    except graphviz.ExecutableNotFound as e:
        raise GraphvizUnavailableError(f"render: Graphviz's dot program was not found on PATH; {_INSTALL_DOT}") from e


def render(*tensors: Tensor, path: str | Path, max_nodes: int = MAX_NODES, title: str | None = None) -> Path:
    """Draw the graphs below ``tensors`` to ``path``; the suffix picks the format (.svg, .png, .pdf).

    Returns:
        The path written.

    Example:
        >>> z = (x + y) * y
        >>> xpgrad.render(z, z.grad(y), path="z.svg")
    """
    p = Path(path)
    fmt = p.suffix.lstrip(".").lower()
    if fmt not in ("svg", "png", "pdf", "dot", "gv"):
        raise ValueError(f"render: cannot tell the format from {str(path)!r}; end the path in .svg, .png or .pdf")
    _check_size(tensors, max_nodes)
    text = to_dot(*tensors, title=title)
    p.write_bytes(text.encode() if fmt in ("dot", "gv") else _pipe(text, fmt))
    return p


def svg(*tensors: Tensor, max_nodes: int = MAX_NODES) -> str:
    """The picture of the graphs below ``tensors`` as SVG text."""
    _check_size(tensors, max_nodes)
    return _pipe(to_dot(*tensors), "svg").decode()


def repr_svg(t: Tensor) -> str | None:
    """Jupyter's picture of a Tensor: its graph as SVG, or None (plain text) without Graphviz or when big."""
    try:
        return svg(t, max_nodes=300)
    except (GraphvizUnavailableError, ValueError):
        return None
