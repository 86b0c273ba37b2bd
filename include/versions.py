"""The versions of the code whose output the pipeline reuses, declared by hand.

A committed token partition is reused while its ``_SUCCESS.json`` names :data:`TOKENIZER_VERSION`;
a published model version is reused (the run ends ``unchanged``) while its content hash, which
covers :data:`CODE_VERSION`, is the one a run would compute. So a comment, a docstring or a
refactoring retokenizes and retrains nothing; a change of behaviour must bump the version it
changes, and the golden tests make a change without a bump fail:

- ``tests/unit/test_tokens.py::test_tokenizer_output_is_the_one_recorded_for_its_version``: the
  tokenizer's exact output on a fixed text, recorded per :data:`TOKENIZER_VERSION`;
- ``tests/unit/test_golden_training.py``: the LineSentence file and ``embeddings.npy`` of a
  fixed-seed, ``workers: 1`` training, recorded per :data:`CODE_VERSION` together with the
  tokenizer version it was recorded with (a tokenizer bump needs a code bump: the content hash
  covers input files, not tokens).

Bump by writing a new value (any string not used before) and recording the new golden output
beside the old ones; never edit a recorded one. The values below are those the hash-based scheme
gave the release before named models (8384ace), whose tokenizer and training are byte for byte
these (the golden tests say so), so data roots it wrote keep reusing their partitions and versions.
"""

#: The tokenizer (``include/text``: reading, decoding, gensim's ``simple_preprocess`` and row
#: splitting): which tokens a file gives.
TOKENIZER_VERSION = "55ad17533dc8ce4a"

#: Training and what a version's files are made of (the LineSentence file, gensim's Word2Vec with
#: its params, the exports, Keras models and report built from it); covers the tokenizer's version.
CODE_VERSION = "c5eb5dce9d36d66c"
