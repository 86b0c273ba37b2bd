"""Errors that mean the input is wrong and a retry cannot help."""


class PipelineInputError(ValueError):
    """Bad input: a path, a file or a parameter value the pipeline refuses.

    The message always names the file or parameter at fault and the offending value, so an
    operator can fail the task at once instead of retrying.
    """


class VersionConflictError(RuntimeError):
    """A model version of the same name but other content is already published: versions are immutable."""


class ParityError(RuntimeError):
    """The Keras model and gensim disagree on cosine similarity: the version must not be published."""


class NeighbourRecallError(ParityError):
    """The approximate neighbour table disagrees with exact search beyond the allowed recall loss:
    a parity failure between the index and brute force, so the version must not be published
    (a subclass of :class:`ParityError`, so every caller that fails a run on parity fails on it)."""


class NotInRegistryError(PipelineInputError, LookupError):
    """No such model, alias or version: the message lists what exists (the API answers 404)."""


class ContractError(PipelineInputError):
    """A run's contract (vector size, tokenizer version, phrases) differs from its model's champion:
    the message names the model, the field, both values and the fix."""
