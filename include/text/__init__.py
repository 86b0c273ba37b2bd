"""Reading corpus files and turning their lines into tokens (gensim's ``simple_preprocess``, vectorized)."""
