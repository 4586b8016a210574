"""Embeds texts with fastembed from an ``m2v export onnx --inputs padded`` folder.

    PYTHON_WITH_FASTEMBED fastembed_client.py FOLDER TEXTS.json OUT.npy

fastembed has no model2vec loader: the folder is registered as a custom model whose ONNX
output is already pooled (``PoolingType.DISABLED``; the graph normalizes when the model
does).  fastembed tokenizes with special tokens on (the exported tokenizer.json has no
post-processor, so the ids are the same), truncates to ``model_max_length`` and pads.
"""

import json
import sys
from pathlib import Path

import numpy as np
from fastembed import TextEmbedding
from fastembed.common.model_description import ModelSource, PoolingType

folder, texts_path, out_path = sys.argv[1:]
config = json.loads(Path(folder, "config.json").read_text(encoding="utf-8"))
name = "local/m2v-onnx-export"
TextEmbedding.add_custom_model(
    model=name,
    pooling=PoolingType.DISABLED,
    normalization=False,
    sources=ModelSource(hf=name),
    dim=config["hidden_dim"],
    model_file=config["files"]["float32"],
)
model = TextEmbedding(name, specific_model_path=folder, threads=1)
texts = json.loads(Path(texts_path).read_text(encoding="utf-8"))
np.save(out_path, np.array(list(model.embed(texts, batch_size=256)), dtype=np.float32))
