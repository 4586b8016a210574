"""StaticModelForPairSimilarity: fine-tune a static model to embed paired texts close together.

The API is model2vec 0.10.0's ``model2vec.train.StaticModelForPairSimilarity``: both texts
of a pair go through the same encoder and head; InfoNCE with in-batch negatives over the
unit-normalized head outputs, logits divided by ``temperature``; a ``text_b`` identical to
the anchor's partner, or paired with a ``text_a`` identical to the anchor, is not used as a
negative.  The export is an embedding head (spec/classifier.md R1-R6) that
``m2v_infer.StaticEmbedder`` runs with numpy alone and model2vec's pipeline loads.

Pairs travel through m2v-train's training loop as rows: each item of the loop's token
sequence is ``[row]``, and the pair batcher packs the first texts of the batch's rows then
their second texts into one :class:`TokenBatch` (so token dropout applies to both); the
network returns ``[vectors of a | vectors of b]`` side by side, ``[batch, 2 * dim]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from m2v_infer import StaticEmbedder

from m2v_train._batches import TokenBatch, make_batch
from m2v_train._device import seed_everything
from m2v_train._errors import InvalidParameterError
from m2v_train._loop import train_loop
from m2v_train._net import ClassifierNet
from m2v_train._split import split
from m2v_train._trainer import check_texts, fit_plan
from m2v_train._value_base import ValueTrainer


class PairNet(ClassifierNet):
    """Encoder + head over a batch of ``2k`` texts (``k`` first texts, then ``k`` second
    texts): ``[k, 2 * out]``, each row a pair's two vectors side by side."""

    def forward(self, batch: TokenBatch) -> torch.Tensor:
        """The pairs' head outputs side by side."""
        first, second = self.head(self.encoder(batch)).chunk(2)
        return torch.cat([first, second], dim=1)


def text_ids(texts: Sequence[str]) -> np.ndarray[Any, Any]:
    """An id per text, equal for identical texts (in order of first appearance)."""
    seen: dict[str, int] = {}
    return np.fromiter((seen.setdefault(t, len(seen)) for t in texts), np.int64, len(texts))


def info_nce(
    outputs: torch.Tensor, ids: torch.Tensor, temperature: float, block: int
) -> torch.Tensor:
    """Mean InfoNCE loss over the anchors of ``outputs`` ``[n, 2 * out]``.

    The rows are taken in blocks of ``block`` pairs (a training batch is one block;
    validation is scored in blocks of the training batch size, as model2vec's batched
    validation): within a block every other ``text_b`` is a negative, except those equal to
    the anchor's partner (same ``ids[:, 1]``) or paired with a copy of the anchor (same
    ``ids[:, 0]``).
    """
    width = outputs.shape[1] // 2
    total = outputs.new_zeros(())
    ids = ids.to(outputs.device)
    for start in range(0, len(outputs), block):
        part = outputs[start : start + block]
        first = torch.nn.functional.normalize(part[:, :width], dim=1)
        second = torch.nn.functional.normalize(part[:, width:], dim=1)
        logits = first @ second.T / temperature
        pair = ids[start : start + block]
        masked = (pair[:, None, 0] == pair[None, :, 0]) | (pair[:, None, 1] == pair[None, :, 1])
        masked.fill_diagonal_(False)
        logits = logits.masked_fill(masked, float("-inf"))
        target = torch.arange(len(part), device=outputs.device)
        total = total + torch.nn.functional.cross_entropy(logits, target, reduction="sum")
    return total / max(1, len(outputs))


class StaticModelForPairSimilarity(ValueTrainer):
    """A pair-similarity model on a static model: embedding bag (+ token weights) and a
    projection head shared by both texts of a pair.

    ``fit(text_a, text_b)`` trains with InfoNCE and early stopping on the validation loss;
    ``encode`` returns the head's vectors; ``evaluate`` reports retrieval of ``text_b``
    given ``text_a``; ``save_pretrained`` exports a folder that ``m2v_infer.StaticEmbedder``
    runs; ``to_static_model`` keeps the fine-tuned embeddings without the head.

    ``from_pretrained`` / ``from_static_model`` take model2vec's options: ``out_dim``
    ``None`` is the embedding dimension, and ``n_layers=0`` with that width means no head at
    all (the fine-tuned embeddings are the vectors).
    """

    task = "embedding"

    def fit(
        self,
        text_a: Sequence[str],
        text_b: Sequence[str],
        learning_rate: float = 1e-3,
        batch_size: int | None = None,
        min_epochs: int | None = None,
        max_epochs: int | None = -1,
        early_stopping_patience: int | None = 5,
        test_size: float | int | None = None,
        device: str | None = "auto",
        text_a_val: Sequence[str] | None = None,
        text_b_val: Sequence[str] | None = None,
        validation_steps: int | None = None,
        random_seed: int | None = None,
        temperature: float = 0.05,
        token_dropout: float = 0.0,
        *,
        validation_size: float | int | None = None,
        seed: int | None = None,
        lr_schedule: str = "plateau",
        weight_decay: float = 0.0,
        show_progress: bool = True,
    ) -> StaticModelForPairSimilarity:
        """Train on pairs ``(text_a[i], text_b[i])``; return ``self``.

        The positional order and defaults are model2vec's; m2v-train's own options are
        keyword-only.  The epoch of lowest validation loss is kept.

        Args:
            text_a, text_b: the two halves of each training pair.
            text_a_val, text_b_val: validation pairs; without them ``validation_size`` of
                the pairs is split off with ``seed`` (not stratified).
            temperature: the InfoNCE temperature (> 0).
            learning_rate, batch_size, min_epochs, max_epochs, early_stopping_patience,
            test_size, device, validation_steps, random_seed, token_dropout,
            validation_size, seed, lr_schedule, weight_decay, show_progress: as
                ``StaticModelForClassification.fit`` (``max_epochs`` -1: until early
                stopping).

        Raises:
            InvalidParameterError: an option is out of range, the halves differ in length,
                the training or validation side has fewer than two pairs, or the batch
                size is below 2.
        """
        plan = fit_plan(
            validation_steps=validation_steps,
            validation_size=validation_size,
            test_size=test_size,
            seed=seed,
            random_seed=random_seed,
            max_epochs=max_epochs,
            min_epochs=min_epochs,
        )
        if isinstance(temperature, bool) or not isinstance(temperature, int | float):
            raise InvalidParameterError(f"temperature must be a number, got {temperature!r}")
        if not temperature > 0:
            raise InvalidParameterError(f"temperature must be > 0, got {temperature!r}")
        first, second = check_texts(text_a, "text_a"), check_texts(text_b, "text_b")
        if len(first) != len(second):
            raise InvalidParameterError(
                f"text_a has {len(first)} texts but text_b has {len(second)}"
            )
        if (text_a_val is None) != (text_b_val is None):
            raise InvalidParameterError("pass both text_a_val and text_b_val, or neither")
        if text_a_val is not None and text_b_val is not None:
            val_first = check_texts(text_a_val, "text_a_val")
            val_second = check_texts(text_b_val, "text_b_val")
            if len(val_first) != len(val_second):
                raise InvalidParameterError("text_a_val and text_b_val differ in length")
            train_rows = np.arange(len(first))
            val_rows = np.arange(len(first), len(first) + len(val_first))
            first, second = first + val_first, second + val_second
        else:
            train_rows, val_rows = split(len(first), plan.validation_size, seed=plan.seed)
        for side, count in (("training", len(train_rows)), ("validation", len(val_rows))):
            if count < 2:
                raise InvalidParameterError(
                    f"the {side} set needs at least two pairs (the other pairs of a batch are "
                    f"the negatives), got {count}: pass more pairs, another validation_size "
                    "(test_size), or text_a_val / text_b_val"
                )
        options = self._loop_options(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            batch_size=batch_size,
            n_train=len(train_rows),
            n_val=len(val_rows),
            plan=plan,
            patience=early_stopping_patience,
            lr_schedule=lr_schedule,
            token_dropout=token_dropout,
            device=device,
            show_progress=show_progress,
        )
        if options.batch_size < 2:
            raise InvalidParameterError(
                f"batch_size must be at least 2 (in-batch negatives), got {options.batch_size}"
            )
        tokens_a, tokens_b = self.tokenize(first), self.tokenize(second)
        ids = np.stack([text_ids(first), text_ids(second)], axis=1)

        def pair_batch(items: Sequence[Sequence[int]]) -> TokenBatch:
            rows = [item[0] for item in items]
            return make_batch([tokens_a[r] for r in rows] + [tokens_b[r] for r in rows])

        block = options.batch_size

        def loss(outputs: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
            return info_nce(outputs, truth, float(temperature), block)

        def score(outputs: torch.Tensor, truth: torch.Tensor) -> float:
            return -float(info_nce(outputs, truth, float(temperature), block))

        generator = seed_everything(plan.seed)
        encoder = self._encoder()
        width = self.out_dim if self.out_dim is not None else encoder.dim
        net = PairNet(encoder, self._head(encoder.dim, width))
        self.history = train_loop(
            net,
            [[int(r)] for r in train_rows],
            ids[train_rows],
            [[int(r)] for r in val_rows],
            ids[val_rows],
            loss_fn=loss,
            score_fn=score,
            options=options,
            generator=generator,
            batcher=pair_batch,
        )
        self._net = net
        return self

    def encode(
        self,
        X: str | Sequence[str],  # noqa: N803
        batch_size: int = 1024,
        show_progress_bar: bool = False,
    ) -> np.ndarray[Any, Any]:
        """The head's vectors, as model2vec's ``encode``: float32 ``[n, dim]`` (``[dim]``
        for one string), not normalized.  Before :meth:`fit`: :class:`NotFittedError`."""
        outputs = self._outputs(X, batch_size, show_progress_bar)
        return outputs[0] if isinstance(X, str) else outputs

    def evaluate(
        self, text_a: Sequence[str], text_b: Sequence[str], batch_size: int = 1024
    ) -> dict[str, float]:
        """Retrieval of each ``text_b`` given its ``text_a`` among all the ``text_b`` by
        cosine: ``recall@1``, ``mrr``, ``mean_cosine`` of the true pairs and ``pairs``
        (``m2v_infer.StaticEmbedder.evaluate`` on the exported model)."""
        return self.to_pipeline().evaluate(
            check_texts(text_a, "text_a"), check_texts(text_b, "text_b"), batch_size=batch_size
        )

    def to_pipeline(self) -> StaticEmbedder:
        """The trained model as an ``m2v_infer.StaticEmbedder`` (numpy only, no torch):
        what :meth:`save_pretrained` writes, without the round trip to disk."""
        return StaticEmbedder(self.to_static_model(), self._export_head())
