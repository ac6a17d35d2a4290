"""Build a tiny Llama and a byte-level BPE tokenizer offline, plus a small chat dataset.

usage: tiny_model.py OUT_DIR DATASET_PATH
"""

import json
import random
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


def rows(n):
    rnd = random.Random(7)
    words = ["red", "green", "blue", "cat", "dog", "sun", "moon", "tree", "river", "stone"]
    for _ in range(n):
        a, b = rnd.choice(words), rnd.choice(words)
        yield {
            "messages": [
                {"role": "user", "content": f"Say {a} then {b}."},
                {"role": "assistant", "content": f"{a} {b}"},
            ]
        }


def main(out_dir, dataset_path):
    data = list(rows(64))
    with open(dataset_path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in data)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    texts = [m["content"] for r in data for m in r["messages"]]
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<|pad|>", bos_token="<|bos|>", eos_token="<|end|>"
    )
    fast.chat_template = TEMPLATE
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=fast.pad_token_id,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(out_dir)
    fast.save_pretrained(out_dir)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
