"""What the lesson pages compute beside training: the chapters' experiments that are not one run.

`core.lessons.foundations` (tensors, broadcasting, autograd) and `core.lessons.tables` (a CSV made into tensors,
d2l 2.2) compute the Learn pages; `core.lessons.baselines` builds seed 004's baseline ladder,
`core.lessons.lr_finder` sweeps the learning rate, and `core.lessons.exercises` lists the chapters' exercises and
which runs answer them.
"""
