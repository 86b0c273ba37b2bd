"""How good a version is: similarity, neighbour table, Keras/gensim parity, evaluation, drift, the gate."""
