"""The dashboard's engine: data, models, the one training loop; its wings hold everything else the pages compute.

Nothing in `core` imports streamlit: the pages lay out widgets and draw, `core` computes. Start at
`core.train` (RunConfig, start, fit), which uses `core.datasets`, `core.models`, `core.ops`,
`core.optim` (SGD and the one-cycle schedule from scratch), `core.device` and `core.evaluate`;
`core.checkpoint` saves and loads trained models and `core.settings` reads and checks every `DASHBOARD_*`
variable. Four wings sit around the engine, each a package with its own map: `core.runs` (runs queued, trained
on Ray, stored, shared with a class), `core.vision` (photos and Teach your own), `core.lessons` (the Learn pages,
the baseline ladder, the learning-rate sweep, the exercises) and `core.export` (a run as a script and notebook,
a taught model as `predict.py`). Comments saying "seed 000" ... "seed 004" point at the source tutorials in
../shared/seeds/ (000: a student's book, whose exam-score data and cat/dog goal we reproduce; 004: the blog post
"MNIST from scratch" and its ladder).
"""

import os

# Ray reads its authentication mode once, when it is imported, and a client left without one calls a cluster of the
# README's commands (token authentication on) with no token: "InvalidAuthToken". Token, then, unless the operator
# says otherwise (RAY_AUTH_MODE=disabled); the embedded local Ray uses a token anyway. Set before `core` imports ray.
os.environ.setdefault("RAY_AUTH_MODE", "token")
