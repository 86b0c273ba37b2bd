"""The files a model version holds: embeddings.npy + vocab.json, word2vec/projector exports, Keras
models; and the word counts its vocabulary is built from."""
