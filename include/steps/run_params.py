"""The pipeline DAG's id and its run Params, defined once as plain data (no Airflow here).

``PARAMS`` maps each Param's name, in the trigger form's order (``model`` first), to its JSON
schema: ``type``, ``default``, bounds (``minimum``/``maximum``, ``enum``, ``pattern``, ...), and
what the form shows (``title``, ``description``, and ``section`` for the grouped knobs).
``dags/word2vec_embeddings.py`` turns each entry into an ``airflow.sdk.Param`` (:func:`param_arguments`);
:func:`include.steps.run_conf.check_param_values` validates a run's values against the same schemas.
A new Param is one entry here (and its use in the DAG's wiring).

Light to import: the DAG file, the UI plugin and ``scripts/run_dag.py`` read it at parse time.
"""

from __future__ import annotations

import copy
from typing import Any

from include.registry.names import SLUG_PATTERN

#: The pipeline DAG (the UI plugin's pages and ``make run`` find it by this id).
DAG_ID = "word2vec_embeddings"

#: Most training threads a run may ask for.
MAX_WORKERS = 32

ADVANCED = "Word2Vec: more knobs"
PHRASES = "Phrases (multi-word tokens such as new_york)"

#: name -> JSON schema with its ``default``; the order is the trigger form's.
PARAMS: dict[str, dict[str, Any]] = {
    "model": {
        "default": "default",
        "type": "string",
        "pattern": SLUG_PATTERN,
        "minLength": 1,
        "maxLength": 64,
        "title": "Model",
        "description": "The named model this run's version belongs to (lowercase letters, digits, - and _, up to "
        "64). Each model has its own versions, aliases and champion: use another name for an experiment "
        "(another corpus, vector size or phrases) so it never replaces what consumers of 'default' load.",
    },
    "allow_contract_change": {
        "default": False,
        "type": "boolean",
        "title": "Allow a contract change",
        "description": "A model's first version fixes its vector_size, tokenizer and phrases on/off; a run that "
        "differs fails before training. On: the version is trained and published, but only an explicit "
        "promote (python -m include.cli --model NAME promote VERSION --alias champion --reason ...) can make "
        "it the champion.",
    },
    "corpus_path": {
        "default": "bundled:lee",
        "type": "string",
        "minLength": 1,
        "title": "Corpus path",
        "description": "A text file, or a folder read recursively for .txt/.gz/.bz2 files. Absolute, relative to "
        "the data root, an object-store URL (s3://bucket/prefix), or bundled:lee (gensim's Lee background "
        "corpus). Must lie inside the data root or a root listed in EMBEDDINGS_CORPUS_ROOTS.",
    },
    "vector_size": {
        "default": 100,
        "type": "integer",
        "minimum": 2,
        "maximum": 1000,
        "title": "Vector size",
        "description": "Dimensions of each word vector.",
    },
    "window": {
        "default": 5,
        "type": "integer",
        "minimum": 1,
        "maximum": 50,
        "title": "Window",
        "description": "Maximum distance between the current and the predicted word in a sentence.",
    },
    "min_count": {
        "default": 5,
        "type": "integer",
        "minimum": 1,
        "maximum": 1_000_000,
        "title": "Minimum count",
        "description": "Words occurring fewer times than this are left out of the vocabulary.",
    },
    "sg": {
        "default": 0,
        "type": "integer",
        "enum": [0, 1],
        "title": "Skip-gram",
        "description": "1 trains skip-gram, 0 trains CBOW.",
    },
    "negative": {
        "default": 5,
        "type": "integer",
        "minimum": 0,
        "maximum": 50,
        "title": "Negative samples",
        "description": "Noise words drawn per positive example (negative sampling); 0 turns negative sampling off "
        "and needs hs: 1.",
    },
    "sample": {
        "default": 0.001,
        "type": "number",
        "minimum": 0,
        "maximum": 0.1,
        "title": "Down-sampling threshold",
        "description": "Frequent words above this relative frequency are randomly down-sampled; 0 disables.",
    },
    # "auto" or a number: a list of types renders as one free-form field in Airflow 3.3's trigger form
    # (30 is read as a number, auto as text); minimum/maximum bind numbers, pattern binds text
    "epochs": {
        "default": "auto",
        "type": ["integer", "string"],
        "minimum": 1,
        "maximum": 200,
        "pattern": "^auto$",
        "title": "Epochs",
        "description": "Passes over the corpus: a number from 1 to 200, or auto to fit the corpus size "
        "(about 2 million tokens seen in all, 5 to 50 passes: 35 for the 58k-token Lee corpus, "
        "gensim's 5 from 400k tokens up).",
    },
    "workers": {
        "default": 0,
        "type": "integer",
        "minimum": 0,
        "maximum": MAX_WORKERS,
        "title": "Worker threads",
        "description": "Training threads; 0 = one per CPU of the worker. Use 1 with a fixed seed for "
        "byte-identical vectors.",
    },
    "seed": {
        "default": 1,
        "type": "integer",
        "minimum": 0,
        "maximum": 2**31 - 1,
        "title": "Random seed",
        "description": "Seed of every random draw in training and of the parity sample.",
    },
    "top_k": {
        "default": 10,
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "title": "Neighbours per probe word",
        "description": "How many nearest neighbours the report lists for each probe word.",
    },
    "history_days": {
        "default": 0,
        "type": "integer",
        "minimum": 0,
        "maximum": 36500,
        "title": "History (days)",
        "description": "Days of token partitions, ending with this run's interval, that training "
        "reads (dated corpora); 0 = all history up to the interval's end.",
    },
    "gate_tolerance": {
        "default": 0.05,
        "type": "number",
        "minimum": 0,
        "maximum": 2,
        "title": "Quality gate tolerance",
        "description": "A version whose WordSim-353, SimLex-999 or analogy score, compared on the items both "
        "scored, is worse than its model's champion's by more than this is published as rejected and the "
        "champion stays.",
    },
    "tokenize_shards": {
        "default": 4,
        "type": "integer",
        "minimum": 1,
        "maximum": 256,
        "title": "Tokenize shards",
        "description": "At most this many parallel tokenize tasks per partition (files are "
        "grouped into shards of similar size).",
    },
    "probe_words": {
        "default": [],
        "type": "array",
        "items": {"type": "string"},
        "maxItems": 200,
        "title": "Probe words",
        "description": "Words whose neighbours the report lists; empty means the 20 most frequent "
        "words that are not stop words.",
    },
    # The rest of gensim's Word2Vec knobs, at gensim's defaults (today's runs keep their vectors), and
    # phrase detection (off by default). Cross-field rules (negative 0 needs hs 1, min_alpha <= alpha,
    # the phrase threshold's range per scoring) are checked by the library (run_conf.check_params).
    "alpha": {
        "default": 0.025,
        "type": "number",
        "minimum": 0.000001,
        "maximum": 1,
        "title": "Learning rate (alpha)",
        "description": "Initial learning rate; it falls linearly to min_alpha over training.",
        "section": ADVANCED,
    },
    "min_alpha": {
        "default": 0.0001,
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "title": "Final learning rate (min_alpha)",
        "description": "The learning rate at the end of training; at most alpha.",
        "section": ADVANCED,
    },
    "hs": {
        "default": 0,
        "type": "integer",
        "enum": [0, 1],
        "title": "Hierarchical softmax",
        "description": "1 trains with hierarchical softmax (alone when negative is 0, else beside negative sampling).",
        "section": ADVANCED,
    },
    "ns_exponent": {
        "default": 0.75,
        "type": "number",
        "minimum": -1,
        "maximum": 1,
        "title": "Negative-sampling exponent",
        "description": "Shape of the noise distribution: 1 samples by frequency, 0 uniformly, negative values "
        "favour rare words. 0.75 is the word2vec paper's; far from it can help non-language data such as "
        "item sequences (Caselles-Dupré et al., 2018).",
        "section": ADVANCED,
    },
    "cbow_mean": {
        "default": 1,
        "type": "integer",
        "enum": [0, 1],
        "title": "CBOW mean",
        "description": "CBOW only (sg 0): 1 averages the context vectors, 0 sums them.",
        "section": ADVANCED,
    },
    "shrink_windows": {
        "default": True,
        "type": "boolean",
        "title": "Shrink windows",
        "description": "Draw each word's context window size from 1..window (weighs near words more); "
        "off = always the full window.",
        "section": ADVANCED,
    },
    "max_final_vocab": {
        "default": 0,
        "type": "integer",
        "minimum": 0,
        "maximum": 100_000_000,
        "title": "Vocabulary cap",
        "description": "Keep at most this many words, raising min_count as needed (caps the model's memory on "
        "corpora with millions of distinct words); 0 = no cap.",
        "section": ADVANCED,
    },
    "phrases": {
        "default": 0,
        "type": "integer",
        "enum": [0, 1, 2],
        "title": "Phrases",
        "description": "Join frequent word pairs into one token before training (new york -> new_york; connector "
        "words such as of/the may sit inside: children_of_israel). 0 = off, 1 = one pass (bigrams), "
        "2 = a second pass for longer phrases.",
        "section": PHRASES,
    },
    "phrases_min_count": {
        "default": 5,
        "type": "integer",
        "minimum": 1,
        "maximum": 1_000_000,
        "title": "Phrase minimum count",
        "description": "Word pairs seen fewer times than this never become a phrase.",
        "section": PHRASES,
    },
    "phrases_threshold": {
        "default": 10.0,
        "type": "number",
        "minimum": -1,
        "maximum": 1_000_000,
        "title": "Phrase threshold",
        "description": "A pair scoring above this becomes a phrase (higher = fewer phrases). Above 0 for default "
        "scoring; -1..1 for npmi.",
        "section": PHRASES,
    },
    "phrases_scoring": {
        "default": "default",
        "type": "string",
        "enum": ["default", "npmi"],
        "title": "Phrase scoring",
        "description": "default: the word2vec paper's score; npmi: normalized pointwise mutual information "
        "(-1..1), less swayed by frequent words.",
        "section": PHRASES,
    },
    "phrases_max_vocab": {
        "default": 10_000_000,
        "type": "integer",
        "minimum": 10_000,
        "maximum": 1_000_000_000,
        "title": "Phrase counting memory cap",
        "description": "Most distinct words and pairs counted while learning phrases; rarer ones are pruned when "
        "it is reached (about 1 GB of memory per 10 million).",
        "section": PHRASES,
    },
}


def param_arguments() -> dict[str, tuple[Any, dict[str, Any]]]:
    """Every Param, in order: name -> ``(default, schema)``, the schema being a fresh copy of the
    rest of its entry (``description`` included), ready for ``airflow.sdk.Param(default, **schema)``."""
    arguments = {}
    for name, entry in copy.deepcopy(PARAMS).items():
        default = entry.pop("default")
        arguments[name] = (default, entry)
    return arguments
