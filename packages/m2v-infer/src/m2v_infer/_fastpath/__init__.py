"""Private: exact, memoized tokenization and pooling (the speed-critical core).

``FastEncoder`` reproduces ``Tokenizer.encode(text, add_special_tokens=False)`` followed
by the m2v inference rules I2-I4 for tokenizers whose pipeline is local (see
``_spec.analyze``), memoizing token ids per whitespace-delimited chunk; texts it cannot
prove exact, and all texts of other tokenizers, go through the tokenizers library.
"""

from m2v_infer._fastpath._encoder import FastEncoder
from m2v_infer._fastpath._spec import PipelineSpec, analyze

__all__ = ["FastEncoder", "PipelineSpec", "analyze"]
