"""The dashboard's engine: data, models, the one training loop, evaluation and checkpoints.

Nothing in `core` imports streamlit: the pages lay out widgets and draw, `core` computes. Start at
`core.train` (RunConfig, start, fit), which uses `core.datasets`, `core.models`, `core.ops`,
`core.optim` and `core.evaluate`; `core.checkpoint` saves and loads trained models.
"""
