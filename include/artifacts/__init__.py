"""The files a model version holds: embeddings.npy + vocab.json, word2vec/projector exports, Keras models."""
