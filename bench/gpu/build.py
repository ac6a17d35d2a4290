"""Build, offline, a random-initialised Llama, its byte-level BPE tokenizer and a chat dataset.

The tokenizer and chat template are made as `tests/e2e/py/tiny_model.py` makes them; the model is
larger (about 0.47B parameters at the default sizes) and its vocabulary is 32000 whatever the
tokenizer holds, so that the embedding and the output head cost what a real 32k vocabulary costs.

Each dataset row is a multi-turn conversation made of consecutive conversations of
`examples/data/chat.jsonl`, repeated. In the fixed-length dataset every row is long enough to be
truncated at the run's `max_length`: every step then trains on exactly batch x max_length tokens.
In the mixed-length one (`build_mixed`) each row's length is drawn from a long-tailed
(log-normal) distribution between 16 tokens and `max_length`, as chat data spreads.
"""

import json
import os
import random
import statistics
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SPECIALS = ["<|pad|>", "<|bos|>", "<|end|>", "<|user|>", "<|assistant|>"]
TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}<|user|>{{ m['content'] }}"
    "{% else %}<|assistant|>{% generation %}{{ m['content'] }}<|end|>{% endgeneration %}"
    "{% endif %}{% endfor %}"
)

# Sizes: the GPU benchmark's model, and the CPU smoke run's.
FULL_SIZE = {
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "num_key_value_heads": 16,
    "vocab_size": 32000,
}
# A model for CPU runs: big enough that compute, not Python, takes a step's time (about 20M
# parameters, most of them in the 32000-entry embedding and output head, as in small real models),
# small enough for a few minutes per run on a shared 2-core machine.
CPU_SIZE = {
    "hidden_size": 256,
    "intermediate_size": 768,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "vocab_size": 32000,
}
SMOKE_SIZE = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 1024,
}


def source_conversations(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["messages"] for line in f if line.strip()]


def write_dataset(source, path, rows, turns):
    """`rows` conversations of `turns` source conversations each, taken round-robin."""
    convs = source_conversations(source)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in range(rows):
            messages = []
            for t in range(turns):
                messages.extend(convs[(r * turns + t) % len(convs)])
            f.write(json.dumps({"messages": messages}) + "\n")
    return convs


def build_tokenizer(convs):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator([m["content"] for c in convs for m in c], trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<|pad|>", bos_token="<|bos|>", eos_token="<|end|>"
    )
    fast.chat_template = TEMPLATE
    return fast


def build_model(model_dir, source, size, max_length, dtype):
    """Writes the model and tokenizer to `model_dir`; returns (parameters, tokenizer)."""
    import torch

    fast = build_tokenizer(source_conversations(source))
    config = LlamaConfig(
        **size,
        max_position_embeddings=max(2048, max_length),
        pad_token_id=fast.pad_token_id,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(getattr(torch, dtype))
    params = sum(p.numel() for p in model.parameters())
    os.makedirs(model_dir, exist_ok=True)
    model.save_pretrained(model_dir)
    fast.save_pretrained(model_dir)
    return params, fast


def build_fixed(fast, source, dataset_path, rows, turns, max_length):
    """Writes the fixed-length dataset; returns the tokens of a row before truncation."""
    write_dataset(source, dataset_path, rows, turns)
    # A row is checked here so that a change of template or data cannot silently leave rows
    # shorter than max_length (tokens per step would then vary).
    with open(dataset_path, encoding="utf-8") as f:
        first = json.loads(f.readline())["messages"]
    length = tokens(fast, first)
    if length <= max_length:
        raise SystemExit(
            f"a dataset row is {length} tokens, not over max_length {max_length}: raise --turns"
        )
    return length


def tokens(fast, messages):
    return len(fast(fast.apply_chat_template(messages, tokenize=False))["input_ids"])


def build_mixed(fast, source, path, rows, max_length, batch, seed=0):
    """`rows` conversations whose lengths in tokens are drawn log-normally (median
    max_length / 5, a long tail up to max_length, none under 16): each row strings together
    source conversations until it reaches its drawn length. Returns the lengths' summary, with
    the padded tokens a random batch of `batch` rows computes per real token (what padding to
    the batch's longest costs)."""
    convs = source_conversations(source)
    rnd = random.Random(seed)
    lengths = []
    with open(path, "w", encoding="utf-8") as f:
        for r in range(rows):
            target = min(max_length, max(16, round(rnd.lognormvariate(0, 0.9) * max_length / 5)))
            messages, n, t = [], 0, r * 7
            while n < target:
                messages.extend(convs[t % len(convs)])
                t += 1
                n = tokens(fast, messages)
            lengths.append(min(n, max_length))
            f.write(json.dumps({"messages": messages}) + "\n")
    padded = real = 0
    for _ in range(2000):
        drawn = rnd.sample(lengths, batch)
        padded += max(drawn) * batch
        real += sum(drawn)
    ordered = sorted(lengths)
    return {
        "rows": rows,
        "min": ordered[0],
        "median": statistics.median(ordered),
        "mean": round(statistics.mean(ordered), 1),
        "p90": ordered[int(0.9 * (rows - 1))],
        "max": ordered[-1],
        "padded_per_real_token": round(padded / real, 3),
    }


def main():
    """`build.py OUT_DIR`: the CPU model (OUT_DIR/model) and 800 mixed-length rows of at most
    512 tokens (OUT_DIR/mixed.jsonl), as bench.py --cpu builds them (bench/first_step.sh)."""
    out = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    source = os.path.join(os.path.dirname(os.path.dirname(here)), "examples", "data", "chat.jsonl")
    params, fast = build_model(os.path.join(out, "model"), source, CPU_SIZE, 512, "float32")
    lengths = build_mixed(fast, source, os.path.join(out, "mixed.jsonl"), 800, 512, 8)
    print(json.dumps({"params": params, "lengths": lengths}))


if __name__ == "__main__":
    main()
