// Embeds texts with transformers.js from an `m2v export onnx` folder (spec/onnx.md, O7).
//   node transformers_js_client.mjs ROOT FOLDER TEXTS.json OUT.json
// ROOT holds FOLDER (transformers.js resolves local models against env.localModelPath).
// AutoModel + AutoTokenizer on the folder; the client does the cuts and builds the inputs
// the graph declares (config.json "inputs": offsets or padded).
import { AutoModel, AutoTokenizer, Tensor, env } from '@huggingface/transformers';
import fs from 'node:fs';
import path from 'node:path';

const [root, folder, textsPath, outPath] = process.argv.slice(2);
env.localModelPath = root + path.sep;
env.allowRemoteModels = false;
const config = JSON.parse(fs.readFileSync(path.join(root, folder, 'config.json'), 'utf8'));
const tokenizer = await AutoTokenizer.from_pretrained(folder);
const model = await AutoModel.from_pretrained(folder);
const limit = config.max_length;
const cut = (text) => (limit === null ? text : Array.from(text).slice(0, limit * config.median_token_length).join(''));
const texts = JSON.parse(fs.readFileSync(textsPath, 'utf8')).map(cut);
const vectors = [];
for (let i = 0; i < texts.length; i += 256) {
  const batch = texts.slice(i, i + 256);
  let inputs;
  if (config.inputs === 'offsets') {
    const { input_ids } = tokenizer(batch, { add_special_tokens: false, return_tensor: false });
    const rows = input_ids.map((row) => (limit === null ? row : row.slice(0, limit)));
    const flat = BigInt64Array.from(rows.flat(), BigInt);
    let start = 0n;
    const offsets = BigInt64Array.from(rows, (row) => { const s = start; start += BigInt(row.length); return s; });
    inputs = {
      input_ids: new Tensor('int64', flat, [flat.length]),
      offsets: new Tensor('int64', offsets, [offsets.length]),
    };
  } else {
    inputs = tokenizer(batch, { add_special_tokens: false, padding: true, truncation: limit !== null, max_length: limit ?? undefined });
  }
  const { embeddings } = await model(inputs);
  vectors.push(...embeddings.tolist());
}
fs.writeFileSync(outPath, JSON.stringify(vectors));
