"""TextHyperModel: the search space for text columns, read three ways, with the vocabularies inside the model."""
from __future__ import annotations

from typing import Any

import keras
import keras_tuner as kt
from keras import layers

from automl.data.schema import Schema
from automl.data.text import SEQUENCE_COVERAGES
from automl.hypermodels.layers import column_layer_name
from automl.hypermodels.mlp import MLPHyperModel
from automl.hypermodels.text_inputs import bag_of_words, vocabulary_sizes, word_ids

ENCODERS = ("bag", "embedding", "cnn")
# Cuts of the vocabulary the search tries, besides the whole (at most MAX_VOCABULARY words): a smaller bag
# trains faster and over-fits less on a few thousand rows; the whole one keeps rare but telling words.
BAG_CUTS = (5_000,)
WORD_CUTS = (5_000,)
# Which hyperparameters each text encoder uses; the others are blanked in the report.
_USES = {
    "bag": {"bag_tokens"},
    "embedding": {"vocabulary_size", "sequence_coverage", "embedding_dim", "pooling"},
    "cnn": {"vocabulary_size", "sequence_coverage", "embedding_dim", "filters", "kernel_size"},
}


class TextHyperModel(MLPHyperModel):
    """The MLP's space, whose text columns are read by one of three encoders, searched:

    - ``bag``: TF-IDF of words and word pairs into the dense layers: the strong linear-ish baseline;
    - ``embedding``: word embeddings averaged (``mean``, blanks left out) or max-pooled over the text;
    - ``cnn``: a 1-D convolution over the embedded words, max-pooled: phrases of 3 or 5 words.

    The vocabulary size (a cut of the commonest words) and the sequence length (words read per text: enough
    for 90 % or 99 % of the training texts) come from the data and are searched. Numeric and categorical
    columns, if the track has any, enter as in the MLP.

    Examples
    --------
    >>> model = TextHyperModel(schema, objective="val_auc", direction="max").build(keras_tuner.HyperParameters())
    """

    compared_by = "text_encoder"
    main_hyperparameters = ("text_encoder", "vocabulary_size", "embedding_dim", "pooling", "num_layers", "units_0",
                            "dropout")

    def text_features(self, hp: kt.HyperParameters, texts: dict[str, keras.KerasTensor]) -> list:
        return searched_text_features(hp, self.schema, texts)

    @staticmethod
    def active_hyperparameters(values: dict[str, Any]) -> dict[str, Any]:
        """The MLP's blanking, and the text hyperparameters the trial's encoder did not use blanked (None)."""
        active = MLPHyperModel.active_hyperparameters(values)
        used = _USES.get(active.get("text_encoder"), set())
        unused = set().union(*_USES.values()) - used
        return {name: None if name in unused else value for name, value in active.items()}


def searched_text_features(hp: kt.HyperParameters, schema: Schema, texts: dict[str, keras.KerasTensor]) -> list:
    """Each text column (a named string input) as a vector, by the searched encoder: what the text family and the
    text of a table beside images (`automl.hypermodels.combined`) read text with."""
    encoder = hp.Choice("text_encoder", list(ENCODERS))
    if encoder == "bag":
        tokens = hp.Choice("bag_tokens", vocabulary_sizes(schema, "bag_vocabulary", BAG_CUTS))
        return [bag_of_words(column, schema.text[column], text, tokens) for column, text in texts.items()]
    tokens = hp.Choice("vocabulary_size", vocabulary_sizes(schema, "vocabulary", WORD_CUTS))
    coverage = hp.Choice("sequence_coverage", list(SEQUENCE_COVERAGES))
    dim = hp.Choice("embedding_dim", [32, 64, 128])
    pooling = hp.Choice("pooling", ["mean", "max"]) if encoder == "embedding" else "max"
    if encoder == "cnn":
        filters, kernel = hp.Choice("filters", [64, 128]), hp.Choice("kernel_size", [3, 5])
    features = []
    for column, text in texts.items():
        spec = schema.text[column]
        ids = word_ids(column, spec, text, tokens, spec["sequence_lengths"][str(coverage)])
        size = min(tokens, len(spec["vocabulary"])) + 2  # + padding and the unknown word
        # The mean leaves the padding out (mask_zero); max pooling and convolutions take no mask.
        x = layers.Embedding(size, dim, mask_zero=pooling == "mean",
                             name=column_layer_name(column, "embedding"))(ids)
        if encoder == "cnn":
            x = layers.Conv1D(filters, kernel, padding="same", activation="relu",
                              name=column_layer_name(column, "conv"))(x)
        pool = layers.GlobalAveragePooling1D if pooling == "mean" else layers.GlobalMaxPooling1D
        features.append(pool(name=column_layer_name(column, pooling))(x))
    return features
