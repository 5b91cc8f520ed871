"""Text columns inside the model: vocabularies learned on the training split, and the TextVectorization
layers that turn raw strings into a bag of words or a sequence of word ids.

The vocabularies are adapted once, by `learn_vocabularies`, and kept in the schema, as a categorical
column's values are; every trial builds its layers from them, and the layers carry them into the `.keras`
file, so the exported model takes raw strings.
"""
from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from keras import layers

from automl.data.schema import Schema
from automl.data.text import as_text
from automl.errors import AutomlError
from automl.hypermodels.layers import column_layer_name, standardize_text

# The most words (and, in a bag, word pairs) a column's vocabulary keeps, commonest first. 20,000 covers
# the words seen twice or more in 21,000 tweets (ToLD-BR); a search chooses among smaller cuts of it.
MAX_VOCABULARY = 20_000
ADAPT_BATCH = 1024
_RESERVED = ("", "[UNK]")  # TextVectorization's padding and out-of-vocabulary entries, not words


def learn_vocabularies(schema: Schema, train_x: pd.DataFrame) -> None:
    """Adapt each text column's vocabularies on the training split, into ``schema.text[column]``:
    ``vocabulary`` (words, commonest first) and ``bag_vocabulary`` with its ``idf`` (words and word pairs)."""
    for column, spec in schema.text.items():
        texts = tf.data.Dataset.from_tensor_slices(as_text(train_x[column]).to_numpy(dtype=str)).batch(ADAPT_BATCH)
        words = layers.TextVectorization(max_tokens=MAX_VOCABULARY, standardize=standardize_text)
        words.adapt(texts)
        bag = layers.TextVectorization(max_tokens=MAX_VOCABULARY, standardize=standardize_text, ngrams=2,
                                       output_mode="tf_idf")
        bag.adapt(texts)
        spec["vocabulary"] = [str(w) for w in words.get_vocabulary() if w not in _RESERVED]
        if not spec["vocabulary"]:
            raise AutomlError(f"text column '{column}' has no words in the training split (only punctuation "
                              "or blanks); fix it, or remove it from data.text and add it to data.drop")
        vocabulary = bag.get_vocabulary()
        idf = np.asarray(bag._lookup_layer.idf_weights)  # Keras keeps the learned IDF only on its lookup layer
        keep = [i for i, w in enumerate(vocabulary) if w not in _RESERVED]
        spec["bag_vocabulary"] = [str(vocabulary[i]) for i in keep]
        spec["idf"] = [round(float(idf[i]), 6) for i in keep]


def bag_of_words(column: str, spec: dict, text: keras.KerasTensor, tokens: int) -> keras.KerasTensor:
    """TF-IDF over the `tokens` commonest words and word pairs: the strong, fast linear baseline for text."""
    tokens = min(tokens, len(spec["bag_vocabulary"]))
    vectorize = layers.TextVectorization(
        standardize=standardize_text, ngrams=2, output_mode="tf_idf", vocabulary=spec["bag_vocabulary"][:tokens],
        idf_weights=spec["idf"][:tokens], name=column_layer_name(column, "tf_idf"),
    )
    # A (batch, 1) string gives (batch, 1, tokens + 1): one bag per row.
    return layers.Flatten(name=column_layer_name(column, "bag"))(vectorize(text))


def word_ids(column: str, spec: dict, text: keras.KerasTensor, tokens: int, length: int) -> keras.KerasTensor:
    """The ids of a text's first `length` words among the `tokens` commonest (0 pads, 1 is an unknown word)."""
    tokens = min(tokens, len(spec["vocabulary"]))
    vectorize = layers.TextVectorization(
        standardize=standardize_text, output_mode="int", output_sequence_length=length,
        vocabulary=spec["vocabulary"][:tokens], name=column_layer_name(column, "words"),
    )
    return layers.Reshape((length,), name=column_layer_name(column, "ids"))(vectorize(text))


def vocabulary_sizes(schema: Schema, key: str, cuts: tuple[int, ...]) -> list[int]:
    """The vocabulary sizes a search chooses from: the `cuts` below the largest column's size, and that size."""
    largest = max(len(spec[key]) for spec in schema.text.values())
    return sorted({*(c for c in cuts if c < largest), largest})
