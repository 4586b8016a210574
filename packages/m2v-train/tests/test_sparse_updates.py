"""Sparse embedding updates: the table's gradient holds only the rows a batch used (each
once), lazy Adam updates those rows alone, weight decay reaches only them (decoupled, as
AdamW), and the optimizer matches torch's Adam, AdamW and SparseAdam."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from m2v_infer import StaticModel
from m2v_testkit import needs_testdata, require_testdata, rotten_tomatoes_reviews
from m2v_train._batches import make_batch
from m2v_train._loop import LoopOptions, Optimization
from m2v_train._net import ClassifierNet, StaticEncoder, dense_head
from m2v_train._optim import Adam, Plateau


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
    assert grad._nnz() == len(used)  # one row per distinct token, not per occurrence
    assert sorted(grad.coalesce().indices()[0].tolist()) == used
    assert net.encoder.sparse
    # the sparse gradient equals the dense one row by row
    dense = _net(model, sparse=False)
    dense(make_batch(ids)).sum().backward()
    dense_grad = dense.encoder.embeddings.grad
    assert dense_grad is not None
    assert not dense_grad.is_sparse
    torch.testing.assert_close(grad.to_dense(), dense_grad, rtol=1e-5, atol=1e-7)


def test_a_frozen_table_is_not_sparse(model: StaticModel) -> None:
    data = model.data
    encoder = StaticEncoder(data.dequantized_embeddings(), train_embeddings=False)
    assert not encoder.sparse
    encoder(make_batch([[1, 2, 3]])).sum().backward()
    assert encoder.embeddings.grad is None


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_one_step_changes_only_the_rows_the_batch_used(
    model: StaticModel, texts: list[str], weight_decay: float
) -> None:
    ids = model.tokenize(texts[:32])
    net = _net(model, sparse=True)
    before = net.encoder.embeddings.detach().clone()
    options = LoopOptions(learning_rate=1e-2, weight_decay=weight_decay)
    optimization = Optimization(net, options, steps_per_epoch=1)
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


def _twin_parameters(seed: int, shape: tuple[int, ...]) -> tuple[torch.nn.Parameter, ...]:
    torch.manual_seed(seed)
    start = torch.randn(shape)
    return torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_the_dense_update_is_torch_adamw(weight_decay: float) -> None:
    ours, theirs = _twin_parameters(0, (7, 5))
    optimizer = Adam([ours], lr=3e-2, weight_decay=weight_decay)
    reference = torch.optim.AdamW([theirs], lr=3e-2, weight_decay=weight_decay)
    for step in range(20):
        grad = torch.randn(7, 5, generator=torch.Generator().manual_seed(step))
        ours.grad, theirs.grad = grad.clone(), grad.clone()
        optimizer.step()
        reference.step()
    torch.testing.assert_close(ours.detach(), theirs.detach(), rtol=1e-6, atol=1e-7)


def test_the_sparse_update_is_lazy_adam_on_the_touched_rows() -> None:
    """Rows a step did not touch keep their value and moments; the touched rows move as torch
    SparseAdam moves them (SparseAdam adds eps before the bias correction, so the two agree
    to eps-sized differences)."""
    ours, theirs = _twin_parameters(1, (50, 4))
    optimizer = Adam([ours], lr=1e-2)
    reference = torch.optim.SparseAdam([theirs], lr=1e-2)
    untouched = torch.arange(40, 50)
    before = ours.detach()[untouched].clone()
    for step in range(15):
        generator = torch.Generator().manual_seed(step)
        rows = torch.randperm(40, generator=generator)[:12]
        values = torch.randn(12, 4, generator=generator)
        grad = torch.sparse_coo_tensor(rows[None], values, (50, 4), check_invariants=True)
        ours.grad, theirs.grad = grad.clone(), grad.clone()
        optimizer.step()
        reference.step()
    torch.testing.assert_close(ours.detach(), theirs.detach(), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours.detach()[untouched], before, rtol=0, atol=0)


def test_plateau_halves_the_rate_after_two_stalled_epochs() -> None:
    optimizer = Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    plateau = Plateau(optimizer)
    rates = []
    for loss in [1.0, 0.9, 0.95, 0.91, 0.92, 0.5, 0.6, 0.6, 0.6]:
        plateau.end_epoch(loss)
        rates.append(optimizer.lr)
    assert rates == [1e-3] * 4 + [5e-4] * 4 + [2.5e-4]


def test_fitting_never_imports_torch_dynamo(model: StaticModel, texts: list[str]) -> None:
    """torch.optim imports torch._dynamo (1-6 s); the trainer's own optimizer does not."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from m2v_train import StaticModelForClassification\n"
        "from m2v_testkit import dataset_path, rotten_tomatoes_reviews\n"
        "texts, labels = rotten_tomatoes_reviews()\n"
        "model = StaticModelForClassification.from_pretrained(str(dataset_path('potion-base-8M')))\n"
        "model.fit(texts[:400], labels[:400], max_epochs=2, show_progress=False)\n"
        "print(len(model.history), 'torch._dynamo' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert done.stdout.split() == ["2", "False"]
