"""Free-text columns: raw strings as the model takes them, their lengths, and the bounds on them.

The words themselves are looked up inside the model (`automl.hypermodels.text_inputs`): what is here needs
no TensorFlow, so the rules for a user's CSV stay quick to run.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# A text is cut to its first MAX_TEXT_CHARS characters inside the model (hypermodels/layers.py), at training
# and at prediction alike: tweets (280) and product titles (about 60) fit whole; a long review's opening
# carries most of its signal, and a bound keeps one pasted document from costing a batch its memory.
MAX_TEXT_CHARS = 1000
# The longest token sequence an embedding or a CNN reads; sequences are the words of a text, cut or padded.
MAX_SEQUENCE_LENGTH = 256
# The shares of training texts whose words fit whole in the sequence lengths the text space chooses from.
SEQUENCE_COVERAGES = (0.9, 0.99)


def as_text(values: pd.Series) -> pd.Series:
    """Strings, a blank as "" (an empty text: no words), numbers as they read."""
    return values.astype("string").fillna("").astype(str)


def describe_text(train: pd.Series) -> dict[str, Any]:
    """What the model needs to know about a text column, from the training split: the sequence lengths
    (in words) that hold `SEQUENCE_COVERAGES` of the texts whole, and how many texts are cut.

    Examples
    --------
    >>> describe_text(pd.Series(["a short title", "another one"]))["sequence_lengths"]
    {'0.9': 3, '0.99': 3}
    """
    texts = as_text(train).str.slice(0, MAX_TEXT_CHARS)
    words = texts.str.split().str.len().to_numpy()
    lengths = {str(share): int(np.clip(np.ceil(np.quantile(words, share)), 1, MAX_SEQUENCE_LENGTH))
               for share in SEQUENCE_COVERAGES}
    return {"sequence_lengths": lengths, "truncated": int((as_text(train).str.len() > MAX_TEXT_CHARS).sum())}
