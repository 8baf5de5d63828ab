"""The dashboard's engine: data, models, the one training loop, and everything else the pages compute.

Nothing in `core` imports streamlit: the pages lay out widgets and draw, `core` computes. Start at
`core.train` (RunConfig, start, fit), which uses `core.datasets`, `core.models`, `core.ops`,
`core.optim` (SGD and the one-cycle schedule from scratch), `core.device` and `core.evaluate`. Around
it: `core.jobs` queues runs (and `core.lr_finder`'s sweeps) for the app and `core.trainers` trains them on Ray,
`core.checkpoint` saves and loads trained models, `core.export` writes a run as a plain script,
`core.baselines` builds the baseline ladder, `core.foundations` and `core.tables` compute the Learn
pages, and `core.photos` with `core.models.pretrained` answer "cat, dog or neither?". Runs last in
`core.store` (SQLAlchemy: SQLite or PostgreSQL), which `core.runs` puts together with the live jobs
for the pages, and `core.run_files` writes as CSV and TensorBoard files; `core.transfer` (frozen
EfficientNet-Lite0 features), `core.album` (a browser's photos by class) and `core.heatmaps` (captum's
Grad-CAM and saliency) serve Teach your own; `core.classroom` keeps a class (its join code, members, challenge and
board of finished runs) in the same store, and `core.exercises` lists the chapters' exercises that the pages answer.
`core.settings` reads and checks every `DASHBOARD_*` variable. Comments saying
"seed 000" ... "seed 004" point at the source tutorials in ../shared/seeds/ (000: a student's book,
whose exam-score data and cat/dog goal we reproduce; 004: the blog post "MNIST from scratch" and its
ladder).
"""

import os

# Ray reads its authentication mode once, when it is imported, and a client left without one calls a cluster of the
# README's commands (token authentication on) with no token: "InvalidAuthToken". Token, then, unless the operator
# says otherwise (RAY_AUTH_MODE=disabled); the embedded local Ray uses a token anyway. Set before `core` imports ray.
os.environ.setdefault("RAY_AUTH_MODE", "token")
