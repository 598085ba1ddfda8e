"""The optimisations, plugged into the core through `xpgrad._core.plugins`: merging equal nodes,
releasing and recomputing large values, evaluating large gradients in one go."""
