"""Sparse embedding updates: the table's gradient holds only the rows a batch used, SparseAdam
updates those rows alone, and weight decay reaches only them (decoupled, as AdamW)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from m2v_infer import StaticModel
from m2v_testkit import needs_testdata, require_testdata, rotten_tomatoes_reviews
from m2v_train._batches import make_batch
from m2v_train._loop import LoopOptions, Optimization
from m2v_train._net import ClassifierNet, StaticEncoder, dense_head, sparse_parameters


@pytest.fixture(scope="module")
def model() -> StaticModel:
    return StaticModel.from_pretrained(require_testdata("potion-base-8M"))


@pytest.fixture(scope="module")
def texts() -> list[str]:
    with needs_testdata():
        return rotten_tomatoes_reviews()[0]


def _net(model: StaticModel, *, sparse: bool) -> ClassifierNet:
    data = model.data
    torch.manual_seed(0)
    encoder = StaticEncoder(data.dequantized_embeddings(), weights=data.weights, sparse=sparse)
    return ClassifierNet(encoder, dense_head(encoder.dim, 32, 1, 2))


def test_the_table_gradient_is_sparse_and_holds_the_batch_rows(
    model: StaticModel, texts: list[str]
) -> None:
    ids = model.tokenize(texts[:64])
    net = _net(model, sparse=True)
    net(make_batch(ids)).sum().backward()
    grad = net.encoder.embeddings.grad
    assert grad is not None
    assert grad.is_sparse
    used = sorted({i for text in ids for i in text})
    assert sorted(grad.coalesce().indices()[0].tolist()) == used
    assert sparse_parameters(net) == [net.encoder.embeddings]
    # the sparse gradient equals the dense one row by row
    dense = _net(model, sparse=False)
    dense(make_batch(ids)).sum().backward()
    dense_grad = dense.encoder.embeddings.grad
    assert dense_grad is not None
    assert not dense_grad.is_sparse
    torch.testing.assert_close(grad.to_dense(), dense_grad, rtol=1e-5, atol=1e-7)


def test_a_frozen_table_has_no_sparse_parameters(model: StaticModel) -> None:
    data = model.data
    encoder = StaticEncoder(data.dequantized_embeddings(), train_embeddings=False)
    assert not encoder.sparse
    assert sparse_parameters(encoder) == []


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_one_step_changes_only_the_rows_the_batch_used(
    model: StaticModel, texts: list[str], weight_decay: float
) -> None:
    ids = model.tokenize(texts[:32])
    net = _net(model, sparse=True)
    before = net.encoder.embeddings.detach().clone()
    options = LoopOptions(learning_rate=1e-2, weight_decay=weight_decay)
    optimization = Optimization(net, options, steps_per_epoch=1)
    assert any(isinstance(o, torch.optim.SparseAdam) for o in optimization.optimizers)
    optimization.zero_grad()
    net(make_batch(ids)).logsumexp(dim=1).mean().backward()
    optimization.step()
    after = net.encoder.embeddings.detach()
    used = np.array(sorted({i for text in ids for i in text}))
    untouched = np.setdiff1d(np.arange(len(before)), used)
    torch.testing.assert_close(after[untouched], before[untouched], rtol=0, atol=0)
    changed = (after[used] != before[used]).any(dim=1)
    assert bool(changed.all())
    if weight_decay:
        # decoupled decay: the row is first scaled by (1 - lr * wd), then the Adam step
        # (at most lr per coordinate) is applied
        scaled = before[used] * (1 - 1e-2 * weight_decay)
        assert float((after[used] - scaled).abs().max()) <= 1e-2 * 1.001
