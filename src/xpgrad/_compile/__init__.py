"""Compiled functions (`xpgrad.function`), graph simplification, and fused kernels (`xpgrad.fuse`)."""
