"""What a photo goes through before the frozen backbone sees it: the backbone's name, the square a photo is kept as,
the crop the network sees, the normalisation, and the size of the features it gives.

`PREPROCESS` is what a taught head's checkpoint records, so that a head loaded again sees photos exactly as in
training. These are plain numbers, apart from `core.vision.transfer`, so that a checkpoint or an album can check
and size them without importing torchvision (2 s here, of a fresh server's first page).
"""

BACKBONE = "efficientnet_lite0"
SIDE, CROP = 256, 224  # each photo is kept as its 256x256 centre square; the network sees its central 224x224
MEAN, STD = (127 / 255,) * 3, (128 / 255,) * 3  # the Lite models' (x - 127) / 128 on pixels 0..255
NUM_FEATURES = 1280
PREPROCESS = {"backbone": BACKBONE, "resize": SIDE, "crop": CROP, "mean": list(MEAN), "std": list(STD)}
