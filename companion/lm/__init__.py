"""Language models of tokens (chapters 9 and 10): the recurrent model and the baselines it must beat.

:mod:`companion.lm.charlm` holds :class:`~companion.lm.charlm.CharLM` (embedding, recurrent stack,
read-out), its stateful truncated-BPTT loss, evaluation in nats and bits, sampling, and save/load;
:mod:`companion.lm.ngram` the count-based n-gram models. Every public name is re-exported here:
``from companion.lm import CharLM, NGramLM``.
"""

from companion.lm.charlm import (
    CharLM,
    TBPTTLoss,
    bits,
    detach_state,
    load,
    perplexity,
    sample,
    sample_text,
    save,
    token_nll,
)
from companion.lm.ngram import NGramLM

__all__ = [
    "CharLM",
    "detach_state",
    "TBPTTLoss",
    "token_nll",
    "perplexity",
    "bits",
    "sample",
    "sample_text",
    "save",
    "load",
    "NGramLM",
]
