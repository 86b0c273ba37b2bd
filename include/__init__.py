"""The embeddings library: pure functions from text files to a published model version.

Nothing here imports Airflow. Heavy modules (gensim, tensorflow, keras, matplotlib) are
imported inside the functions that need them, so importing a module of this package is cheap.
"""
