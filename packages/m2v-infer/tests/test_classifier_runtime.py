"""m2v_infer.StaticClassifier: loading and running exported classifiers with numpy alone.

Every folder here is built with numpy + safetensors + m2v_format (no torch), as the slim
install has them; each rule of spec/classifier.md that a reader enforces has a case.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format import (
    ClassifierError,
    ClassifierNotFoundError,
    ModelConfig,
    StaticModelData,
    UnsupportedClassifierVersionError,
    save_model,
)
from m2v_format import load_classifier_head as read_head
from m2v_infer import StaticClassifier, StaticModel
from safetensors.numpy import save_file
from tokenizers import Tokenizer, models, pre_tokenizers

WORDS = ["[UNK]", "good", "bad", "movie", "sport", "music", "the"]
DIM = 8


def _tokenizer() -> Tokenizer:
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer


def _layers(rng: np.random.Generator, sizes: list[int]) -> dict[str, np.ndarray]:
    tensors = {}
    for index, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        tensors[f"layers.{index}.weight"] = rng.normal(size=(fan_out, fan_in)).astype(np.float32)
        tensors[f"layers.{index}.bias"] = rng.normal(size=fan_out).astype(np.float32)
    return tensors


def build(
    folder: Path,
    *,
    task: str = "single-label",
    classes: list[Any] | None = None,
    hidden: list[int] | None = None,
    config: dict[str, Any] | None = None,
    tensors: dict[str, np.ndarray] | None = None,
    seed: int = 0,
) -> Path:
    """A classifier folder: a tiny model plus a random head (overridable piece by piece)."""
    rng = np.random.default_rng(seed)
    classes = classes if classes is not None else ["neg", "pos"]
    data = StaticModelData(
        embeddings=rng.normal(size=(len(WORDS), DIM)).astype(np.float32),
        tokenizer=_tokenizer(),
        config=ModelConfig(normalize=True),
    )
    save_model(folder, data)
    sizes = [DIM, *(hidden if hidden is not None else [5]), len(classes)]
    save_file(
        tensors if tensors is not None else _layers(rng, sizes),
        str(folder / "classifier.safetensors"),
    )
    body = {
        "format": "m2v-classifier",
        "classifier_version": "1.0",
        "task": task,
        "classes": classes,
        "layers": len(sizes) - 1,
        "hidden_activation": "relu",
        "threshold": 0.5,
    }
    body.update(config or {})
    (folder / "classifier.json").write_text(
        json.dumps({k: v for k, v in body.items() if v is not ...})
    )
    return folder


def _manual(folder: Path, texts: list[str]) -> np.ndarray:
    """The head applied by hand: ReLU MLP on the model's embeddings."""
    from safetensors.numpy import load_file

    features = StaticModel.from_pretrained(folder).encode(texts)
    tensors = load_file(str(folder / "classifier.safetensors"))
    layers = len(tensors) // 2
    hidden = features.astype(np.float64)
    for index in range(layers):
        hidden = hidden @ tensors[f"layers.{index}.weight"].T + tensors[f"layers.{index}.bias"]
        if index < layers - 1:
            hidden = np.maximum(hidden, 0)
    return hidden


TEXTS = ["good movie", "bad movie", "the sport", "music music good", "", "unknown words only"]


def test_single_label_matches_manual_computation(tmp_path: Path) -> None:
    folder = build(tmp_path / "clf", classes=["a", "b", "c"], hidden=[6, 4])
    classifier = StaticClassifier.from_pretrained(folder)
    logits = _manual(folder, TEXTS)
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    proba = classifier.predict_proba(TEXTS)
    assert proba.dtype == np.float32
    assert proba.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(proba, expected, atol=1e-5)
    assert classifier.predict(TEXTS).tolist() == [["a", "b", "c"][i] for i in logits.argmax(1)]
    assert classifier.predict("good movie").tolist() == classifier.predict(["good movie"]).tolist()
    assert classifier.classes == ("a", "b", "c")
    assert not classifier.multilabel
    assert "classes=3" in repr(classifier)


def test_multilabel_sigmoid_and_threshold(tmp_path: Path) -> None:
    folder = build(
        tmp_path / "ml", task="multi-label", classes=["x", "y", "z"], config={"threshold": 0.3}
    )
    classifier = StaticClassifier.from_pretrained(folder)
    expected = 1 / (1 + np.exp(-_manual(folder, TEXTS)))
    np.testing.assert_allclose(classifier.predict_proba(TEXTS), expected, atol=1e-5)
    assert classifier.threshold == 0.3
    predicted = classifier.predict(TEXTS)
    assert predicted == [
        [c for c, p in zip("xyz", row, strict=True) if p > 0.3] for row in expected
    ]
    assert classifier.predict(TEXTS, threshold=1.0) == [[] for _ in TEXTS]


def test_linear_head_and_integer_classes(tmp_path: Path) -> None:
    folder = build(tmp_path / "lin", classes=[3, 7], hidden=[])
    classifier = StaticClassifier.from_pretrained(folder)
    assert classifier.classes == (3, 7)
    assert set(classifier.predict(TEXTS).tolist()) <= {3, 7}


def test_minor_versions_and_unknown_keys_are_accepted(tmp_path: Path) -> None:
    folder = build(tmp_path / "v", config={"classifier_version": "1.7", "note": "kept"})
    head = read_head(folder)
    assert head.version == "1.7"
    assert head.extra == {"note": "kept"}


def test_loading_is_data_only(tmp_path: Path) -> None:
    """A pickle file in the folder is never opened; loading imports no torch."""
    folder = build(tmp_path / "clf")
    (folder / "head.pkl").write_bytes(b"\x80\x04not really a pickle")
    script = (
        "import sys; from m2v_infer import StaticClassifier; "
        f"c = StaticClassifier.from_pretrained({str(folder)!r}); c.predict(['good movie']); "
        "print('torch' in sys.modules, 'sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def _broken(tmp_path: Path, rule: str, **kwargs: Any) -> None:
    folder = build(tmp_path / "bad", **kwargs)
    with pytest.raises(ClassifierError) as raised:
        StaticClassifier.from_pretrained(folder)
    assert raised.value.rule == raised.value.rule_id == rule
    assert raised.value.code in {"invalid-classifier", "unsupported-classifier-version"}


def test_missing_files(tmp_path: Path) -> None:
    folder = build(tmp_path / "clf")
    (folder / "classifier.json").unlink()
    with pytest.raises(ClassifierNotFoundError):
        StaticClassifier.from_pretrained(folder)
    model_only = tmp_path / "plain"
    save_model(
        model_only,
        StaticModelData(embeddings=np.ones((len(WORDS), 2), np.float32), tokenizer=_tokenizer()),
    )
    with pytest.raises(ClassifierNotFoundError) as raised:
        read_head(model_only)
    assert raised.value.code == "classifier-missing"


@pytest.mark.parametrize(
    ("rule", "config"),
    [
        ("H2", {"format": "something-else"}),
        ("H3", {"classifier_version": "one"}),
        ("R7", {"task": "regression"}),  # a value task needs classifier_version 1.1
        ("H4", {"task": "ranking"}),
        ("R1", {"task": "ranking", "classifier_version": "1.1"}),
        ("H4", {"hidden_activation": "gelu"}),
        ("H4", {"threshold": 2}),
        ("H4", {"layers": 0}),
        ("H5", {"classes": []}),
        ("H5", {"classes": ["a", 1]}),
        ("H5", {"classes": ["a", "a"]}),
        ("H8", {"layers": 1}),
    ],
)
def test_config_rules(tmp_path: Path, rule: str, config: dict[str, Any]) -> None:
    _broken(tmp_path, rule, config=config)


def test_major_version_is_rejected(tmp_path: Path) -> None:
    folder = build(tmp_path / "v2", config={"classifier_version": "2.0"})
    with pytest.raises(UnsupportedClassifierVersionError):
        StaticClassifier.from_pretrained(folder)


def test_invalid_json(tmp_path: Path) -> None:
    folder = build(tmp_path / "clf")
    (folder / "classifier.json").write_text("[1, 2]")
    with pytest.raises(ClassifierError) as raised:
        read_head(folder)
    assert raised.value.rule_id == "H2"


def test_tensor_rules(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    good = _layers(rng, [DIM, 5, 2])
    missing = {k: v for k, v in good.items() if k != "layers.1.bias"}
    _broken(tmp_path / "a", "H7", tensors=missing)
    wrong_in = dict(good, **{"layers.0.weight": np.zeros((5, DIM + 1), np.float32)})
    _broken(tmp_path / "b", "H8", tensors=wrong_in)
    chain = dict(good, **{"layers.1.weight": np.zeros((2, 4), np.float32)})
    _broken(tmp_path / "c", "H8", tensors=chain)
    nan = dict(good, **{"layers.1.bias": np.array([np.nan, 0], np.float32)})
    _broken(tmp_path / "d", "H9", tensors=nan)
    ints = dict(good, **{"layers.1.bias": np.array([1, 0], np.int32)})
    _broken(tmp_path / "e", "H7", tensors=ints)
    outputs = _layers(rng, [DIM, 5, 3])
    _broken(tmp_path / "f", "H8", tensors=outputs)


def test_float16_and_float64_heads_load(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    tensors = {
        k: v.astype(np.float16 if "weight" in k else np.float64)
        for k, v in _layers(rng, [DIM, 4, 2]).items()
    }
    classifier = StaticClassifier.from_pretrained(build(tmp_path / "mixed", tensors=tensors))
    assert classifier.predict_proba(TEXTS).dtype == np.float32


def test_corrupt_safetensors(tmp_path: Path) -> None:
    folder = build(tmp_path / "clf")
    path = folder / "classifier.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[:-4])
    with pytest.raises(ClassifierError) as raised:
        read_head(folder)
    assert raised.value.rule_id == "H6"
    path.write_bytes(data + b"xx")
    with pytest.raises(ClassifierError):
        read_head(folder)
    path.write_bytes(b"\x01")
    with pytest.raises(ClassifierError):
        read_head(folder)


# ---------------------------------------------------------------- model2vec pipeline arguments


def test_pipeline_arguments_of_model2vec(tmp_path: Path) -> None:
    """predict / predict_proba take StaticModelPipeline's arguments, by name and position."""
    classifier = StaticClassifier.from_pretrained(build(tmp_path / "clf", classes=["a", "b"]))
    expected = classifier.predict_proba(TEXTS)
    options = {
        "show_progress_bar": False,
        "max_length": None,
        "batch_size": 2,
        "use_multiprocessing": False,
        "multiprocessing_threshold": 10_000,
    }
    np.testing.assert_array_equal(classifier.predict_proba(TEXTS, **options), expected)
    np.testing.assert_array_equal(classifier.predict_proba(TEXTS, False, 512, 3), expected)
    labels = classifier.predict(TEXTS, **options, threshold=0.5)
    assert labels.tolist() == classifier.predict(TEXTS).tolist()
    assert classifier.classes_.tolist() == ["a", "b"]
    # max_length is honoured: a 1-token limit keeps only the first token of each text
    short = classifier.predict_proba(["music good movie"], max_length=1)
    np.testing.assert_allclose(short, classifier.predict_proba(["music"]), atol=1e-6)


def test_empty_input(tmp_path: Path) -> None:
    single = StaticClassifier.from_pretrained(build(tmp_path / "s", classes=[3, 7]))
    proba = single.predict_proba([])
    assert proba.shape == (0, 2)
    assert proba.dtype == np.float32
    labels = single.predict([])
    assert labels.shape == (0,)
    assert labels.dtype == np.asarray([3, 7]).dtype
    multi = StaticClassifier.from_pretrained(build(tmp_path / "m", task="multi-label"))
    assert multi.predict([]) == []


def test_evaluate_report(tmp_path: Path) -> None:
    classifier = StaticClassifier.from_pretrained(build(tmp_path / "clf", classes=["a", "b", "c"]))
    predicted = classifier.predict(TEXTS).tolist()
    truth = ["a", "b", "c", "a", "b", "c"]
    report = classifier.evaluate(TEXTS, truth)
    classes = sorted(set(truth) | set(predicted))
    assert list(report) == [*classes, "accuracy", "macro avg", "weighted avg"]
    accuracy = np.mean([p == t for p, t in zip(predicted, truth, strict=True)])
    assert report["accuracy"] == pytest.approx(accuracy)
    for label in classes:
        hits = sum(p == t == label for p, t in zip(predicted, truth, strict=True))
        made = predicted.count(label)
        assert report[label]["precision"] == pytest.approx(hits / made if made else 0.0)
        assert report[label]["recall"] == pytest.approx(hits / truth.count(label))
        assert report[label]["support"] == truth.count(label)
    assert report["macro avg"]["support"] == len(TEXTS)


def _flat(report: dict[str, Any]) -> dict[str, float]:
    """A report's numbers keyed ``"class/metric"`` (``pytest.approx`` compares flat dicts)."""
    flat: dict[str, float] = {}
    for key, value in report.items():
        for metric, number in value.items() if isinstance(value, dict) else [("", value)]:
            flat[f"{key}/{metric}"] = float(number)
    return flat


def test_evaluate_matches_scikit_learn_and_model2vec(tmp_path: Path) -> None:
    """The numpy report equals scikit-learn's dict and model2vec's pipeline report."""
    metrics = pytest.importorskip("sklearn.metrics")
    inference = pytest.importorskip("model2vec.inference")
    single = StaticClassifier.from_pretrained(build(tmp_path / "s", classes=["a", "b", "c"]))
    truth = ["a", "b", "c", "a", "c", "c"]
    ours = single.evaluate(TEXTS, truth)
    predicted = single.predict(TEXTS)
    theirs = inference.evaluate_single_or_multi_label(predictions=predicted, y=truth)
    assert _flat(ours) == pytest.approx(_flat(theirs))
    sklearn = metrics.classification_report(truth, predicted, output_dict=True, zero_division=0)
    assert _flat(ours) == pytest.approx(_flat(sklearn))
    multi = StaticClassifier.from_pretrained(
        build(tmp_path / "m", task="multi-label", classes=["x", "y", "z"])
    )
    labels = [["x"], ["y", "z"], [], ["x", "z"], ["y"], ["z"]]
    ours_ml = multi.evaluate(TEXTS, labels, threshold=0.4)
    predicted_ml = multi.predict(TEXTS, threshold=0.4)
    theirs_ml = inference.evaluate_single_or_multi_label(
        predictions=np.asarray([np.asarray(p) for p in predicted_ml], dtype=object), y=labels
    )
    assert _flat(ours_ml) == pytest.approx(_flat(theirs_ml))


def test_save_pretrained_round_trip(tmp_path: Path) -> None:
    from m2v_format import OutputExistsError

    classifier = StaticClassifier.from_pretrained(build(tmp_path / "clf", classes=["a", "b"]))
    folder = classifier.save_pretrained(tmp_path / "copy")
    again = StaticClassifier.from_pretrained(folder)
    np.testing.assert_array_equal(again.predict_proba(TEXTS), classifier.predict_proba(TEXTS))
    with pytest.raises(OutputExistsError):
        classifier.save_pretrained(folder)
    classifier.save_pretrained(folder, overwrite=True)


def test_push_to_hub_uploads_the_classifier_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import types

    uploaded: list[dict[str, Any]] = []

    class FakeApi:
        def __init__(self, token: str | None = None) -> None:
            self.token = token

        def create_repo(self, **kwargs: Any) -> None:
            assert kwargs["private"] is True

        def upload_folder(self, **kwargs: Any) -> None:
            folder = Path(kwargs["folder_path"])
            assert StaticClassifier.from_pretrained(folder).classes == ("a", "b")
            uploaded.append(kwargs)

    fake = types.ModuleType("huggingface_hub")
    fake.HfApi = FakeApi  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "huggingface_hub", fake)
    classifier = StaticClassifier.from_pretrained(build(tmp_path / "clf", classes=["a", "b"]))
    classifier.push_to_hub("me/classifier", "sub", "secret", True)  # model2vec's order
    assert [(u["repo_id"], u["path_in_repo"]) for u in uploaded] == [("me/classifier", "sub")]
