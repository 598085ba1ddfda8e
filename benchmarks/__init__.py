"""Benchmarks of xpgrad against hand-written NumPy gradients and other autodiff libraries.

Run ``python -m benchmarks.run [--quick] [--out DIR]`` from the repository root.
"""
