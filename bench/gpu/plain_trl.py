"""The baseline: a minimal TRL SFT run with the same model, data, hyperparameters and precision
as trainpod's trainer.py, given the same config.json (read from TRAINPOD_BUNDLE_DIR).

The one addition to the minimal SFTTrainer call is a callback that prints each log with its wall
time (`BENCH_LOG <json>`), as trainer.py's reporter stamps each `log` event, so that both runs
are timed the same way. With an `eval_fraction`, it holds out the same rows as trainer.py (the
same split, the same seed) and evaluates on the same schedule.

usage: plain_trl.py (with TRAINPOD_BUNDLE_DIR, TRAINPOD_WORK_DIR, TRAINPOD_DATASET set)
"""

import json
import os
import sys
import time

import torch
from datasets import load_dataset
from peft import LoraConfig
from transformers import AutoTokenizer, BitsAndBytesConfig, TrainerCallback
from trl import SFTConfig, SFTTrainer


class StampLogs(TrainerCallback):
    def on_log(self, args, state, control, logs=None, **kw):
        line = {"ts": time.time(), "step": state.global_step, **(logs or {})}
        print("BENCH_LOG " + json.dumps(line), flush=True)


def main():
    with open(os.path.join(os.environ["TRAINPOD_BUNDLE_DIR"], "config.json")) as f:
        t = json.load(f)["training"]
    hp = t["hyperparameters"]
    gpu = torch.cuda.is_available()
    bf16 = gpu and hp["precision"] in ("bf16", "auto")
    out = os.path.join(os.environ["TRAINPOD_WORK_DIR"], "output")
    dataset = load_dataset("json", data_files=os.environ["TRAINPOD_DATASET"])["train"]
    held_out, schedule = None, {}
    if hp.get("eval_fraction"):
        split = dataset.train_test_split(test_size=hp["eval_fraction"], seed=hp["seed"])
        dataset, held_out = split["train"], split["test"]
        schedule = {
            "eval_strategy": "steps",
            "eval_steps": hp["eval_steps"],
            "per_device_eval_batch_size": hp["batch_size"],
        }
    args = SFTConfig(
        output_dir=os.path.join(out, "checkpoints"),
        max_steps=hp["max_steps"],
        per_device_train_batch_size=hp["batch_size"],
        gradient_accumulation_steps=hp["gradient_accumulation_steps"],
        learning_rate=hp["learning_rate"],
        max_length=hp["max_length"],
        logging_steps=hp["logging_steps"],
        save_strategy="no",
        gradient_checkpointing=hp["gradient_checkpointing"] and gpu,
        report_to="none",
        seed=hp["seed"],
        bf16=bf16,
        use_cpu=not gpu,
        model_init_kwargs={"dtype": torch.bfloat16} if bf16 else None,
        **schedule,
    )
    extra = {}
    if t["method"] in ("lora", "qlora"):
        extra["peft_config"] = LoraConfig(
            r=hp["lora_r"],
            lora_alpha=hp["lora_alpha"],
            lora_dropout=hp["lora_dropout"],
            target_modules=hp["lora_target_modules"],
            task_type="CAUSAL_LM",
        )
    if t["method"] == "qlora":
        extra["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch.bfloat16,
            bnb_4bit_use_double_quant=True,
        )
    trainer = SFTTrainer(
        model=t["model"],
        args=args,
        train_dataset=dataset,
        eval_dataset=held_out,
        processing_class=AutoTokenizer.from_pretrained(t["model"]),
        callbacks=[StampLogs()],
        **extra,
    )
    trainer.train()
    trainer.save_model(os.path.join(out, "final"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
