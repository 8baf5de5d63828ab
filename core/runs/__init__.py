"""The run service: every run a browser starts, queued, trained on Ray, kept in a store, shared with a class.

`core.runs.jobs` queues runs (and `core.lessons.lr_finder`'s sweeps) on a scheduler a user can see, and
`core.runs.trainers` trains them on Ray actors that import PyTorch once. `core.runs.store` keeps them
(SQLAlchemy: SQLite or PostgreSQL), and `core.runs.book` puts the live and the stored together, per browser,
for the pages, each a `core.runs.view.RunView`; `core.runs.files` writes them as CSV and TensorBoard files;
`core.runs.classroom` keeps a class (its join code, members, challenge and board of finished runs) in the same
store. The training itself is `core.train`'s.
"""
