"""A Llama of about 40M parameters (155 MB of safetensors) with the tests' tokenizer and chat
dataset, for bench/model_cache.sh: large enough that a download takes measurable time.

usage: hub_model.py OUT_DIR DATASET_PATH
"""

import pathlib
import sys

from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

TESTS_PY = pathlib.Path(__file__).resolve().parents[2] / "tests" / "e2e" / "py"
sys.path.insert(0, str(TESTS_PY))

import tiny_model  # noqa: E402  (the tests' tokenizer and dataset)


def main(out_dir: str, dataset_path: str) -> None:
    tiny_model.main(out_dir, dataset_path)
    tok = AutoTokenizer.from_pretrained(out_dir)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=768,
        intermediate_size=2048,
        num_hidden_layers=6,
        num_attention_heads=12,
        num_key_value_heads=4,
        max_position_embeddings=256,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(out_dir)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
