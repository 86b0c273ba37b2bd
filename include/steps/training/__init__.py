"""What the ``detect_phrases`` and ``train_word2vec`` steps share, one idea per module (no task here):

- ``params``: :class:`~include.steps.training.params.Word2VecParams`, the hyper-parameters and their checks
- ``epochs``: ``epochs: "auto"`` resolved to a number of passes, and why
- ``plan``: :class:`~include.steps.training.plan.TrainingPlan`, the partitions a training reads and its content hash
- ``line_sentence``: token partitions written as gensim's ``LineSentence`` file
- ``gensim_word2vec``: gensim's training loop on that file, with progress logging
"""
