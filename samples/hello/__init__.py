"""Hello samples: one small workflow per feature, each runnable with ``python -m``."""
