"""The pretrained networks a backbone search starts from: how keras.applications builds each without its top,
the ImageNet preprocessing it expects, the input sizes its weights suit, and the file Keras downloads them as.

Each is built with ``weights=None`` at the searched input size, and its weights are loaded afterwards from a
file (`automl.hypermodels.weights`). A convolution's weights do not depend on the input size, so the
224-pixel no-top weights load into the same network built for 128, 160 or 192 pixels too; only the features
differ, as they would for any image of another scale.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import keras

# Keras' own download addresses (keras/src/applications/*.py), so that a machine with a network fills
# Keras' cache exactly as `weights="imagenet"` does.
_GOOGLEAPIS = "https://storage.googleapis.com/"
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)  # keras/src/applications/efficientnet.py


@dataclass(frozen=True)
class Pretrained:
    """One network of keras.applications, without its top, and where its ImageNet weights come from.

    `scale` and `offset` take uint8 pixels to what the network expects (a `Rescaling` layer in our model):
    MobileNet v1's ``preprocess_input`` maps 0..255 to -1..1; MobileNetV3 and EfficientNet take 0..255 and
    carry their own preprocessing layers. `file_hash` is the md5 Keras publishes for `file_name`
    (None: it publishes none).
    """

    name: str
    application: str
    sizes: tuple[int, ...]
    file_name: str
    origin: str
    file_hash: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)

    def build(self, size: int) -> keras.Model:
        """The network without its top, for `size` x `size` RGB input, randomly initialised (weights=None)."""
        constructor = getattr(keras.applications, self.application)
        return constructor(include_top=False, weights=None, input_shape=(size, size, 3), **self.options)

    def adjust(self, backbone: keras.Model) -> None:
        """What keras.applications does to the network when it loads ImageNet weights, besides loading them.

        EfficientNet with ``weights="imagenet"`` adds a `Rescaling` by 1/sqrt(stddev) after its `Normalization`
        layer (to match the original's normalisation; tensorflow/tensorflow issue 49930), and builds without it for
        ``weights=None``. Multiplying the loaded variance by the stddev gives the same output with the layers we
        have: (x - mean) / sqrt(variance * stddev).
        """
        if self.application.startswith("EfficientNet"):
            normalization = next(layer for layer in backbone.layers
                                 if isinstance(layer, keras.layers.Normalization))
            variance = normalization.adapt_variance  # the variable; `variance` is a tensor made from it
            variance.assign(variance * keras.ops.convert_to_tensor(IMAGENET_STDDEV_RGB))
            normalization.finalize_state()


PRETRAINED: dict[str, Pretrained] = {entry.name: entry for entry in (
    # Keras publishes MobileNet v1 weights for each input size (mobilenet_2_5_128_tf_no_top.h5, ...); we use the
    # 224 ones at every size (see above), the only ones there may be offline.
    Pretrained("mobilenet_v1_0.25", "MobileNet", sizes=(128, 160, 192, 224),
               file_name="mobilenet_2_5_224_tf_no_top.h5",
               origin=_GOOGLEAPIS + "tensorflow/keras-applications/mobilenet/mobilenet_2_5_224_tf_no_top.h5",
               scale=1.0 / 127.5, offset=-1.0, options={"alpha": 0.25}),
    # MobileNetV3 and EfficientNet are documented (and trained) at 224 pixels only: one size each. At 224 they cost
    # 56M and 390M multiply-adds per image against MobileNet 0.25's 41M (Keras' tables): on a 2-core CPU the
    # smaller sizes are MobileNet v1's.
    Pretrained("mobilenet_v3_small", "MobileNetV3Small", sizes=(224,),
               file_name="weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
               origin=_GOOGLEAPIS + "tensorflow/keras-applications/mobilenet_v3/"
                                    "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
               file_hash="d3e8ec802a04aa4fc771ee12a9a9b836", options={"include_preprocessing": True}),
    Pretrained("efficientnet_b0", "EfficientNetB0", sizes=(224,),
               file_name="efficientnetb0_notop.h5", origin=_GOOGLEAPIS + "keras-applications/efficientnetb0_notop.h5",
               file_hash="50bc09e76180e00e4465e1a485ddc09d"),
)}
