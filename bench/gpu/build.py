"""Build, offline, a random-initialised Llama, its byte-level BPE tokenizer and a chat dataset.

The tokenizer and chat template are made as `tests/e2e/py/tiny_model.py` makes them; the model is
larger (about 0.47B parameters at the default sizes) and its vocabulary is 32000 whatever the
tokenizer holds, so that the embedding and the output head cost what a real 32k vocabulary costs.

Each dataset row is a multi-turn conversation made of consecutive conversations of
`examples/data/chat.jsonl`, repeated, long enough that every row is truncated at the run's
`max_length`: every step then trains on exactly batch x max_length tokens.
"""

import json
import os

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


def build(model_dir, dataset_path, source, rows, turns, size, max_length, dtype):
    """Writes the model and tokenizer to `model_dir` and the dataset; returns the parameters."""
    import torch

    convs = write_dataset(source, dataset_path, rows, turns)
    fast = build_tokenizer(convs)
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
    # A row is checked here so that a change of template or data cannot silently leave rows
    # shorter than max_length (tokens per step would then vary).
    with open(dataset_path, encoding="utf-8") as f:
        first = json.loads(f.readline())["messages"]
    length = len(fast(fast.apply_chat_template(first, tokenize=False))["input_ids"])
    if length <= max_length:
        raise SystemExit(
            f"a dataset row is {length} tokens, not over max_length {max_length}: raise --turns"
        )
    return params, length
