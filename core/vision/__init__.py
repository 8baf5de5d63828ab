"""Photos: "cat, dog or neither?" and Teach your own, on EfficientNet-Lite0 (`core.models.pretrained`).

`core.vision.photos` decodes an upload safely (size, pixels, orientation, transparency), `core.vision.transfer`
turns photos into the frozen backbone's features and builds the head trained on them, `core.vision.album` keeps
a browser's photos by class in the run store, and `core.vision.heatmaps` shows where a model looked (captum's
Grad-CAM and saliency).
"""
