"""Export: what a student takes away from the dashboard, as plain PyTorch that runs anywhere.

`core.export.script` writes a run's settings as a short script and a notebook (its ops, SGD and models from
their own source in `core`); `core.export.predict` writes `predict.py`, which answers photos with a model
taught on the Teach page. Neither the script nor `predict.py` imports this dashboard.
"""
