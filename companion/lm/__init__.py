"""Language models of tokens (chapters 9 and 10): the recurrent model and the baselines it must beat.

:mod:`companion.lm.charlm` holds :class:`~companion.lm.charlm.CharLM` (embedding, recurrent stack,
read-out), its stateful truncated-BPTT loss, evaluation in nats and bits, sampling, and save/load;
:mod:`companion.lm.ngram` the count-based n-gram models. Every public name is re-exported here:
``from companion.lm import CharLM, NGramLM``.
"""

from companion.lm import charlm, ngram
from companion.lm.charlm import *  # noqa: F403 (the names in charlm.__all__)
from companion.lm.ngram import *  # noqa: F403

__all__ = charlm.__all__ + ngram.__all__
