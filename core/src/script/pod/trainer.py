"""Fine-tune with TRL's SFTTrainer (LoRA, QLoRA or full) from the bundle's config.json.

Every value comes from the config; this file is a constant template. Progress goes to the
reporter (never able to slow or crash training); the model is saved under the work directory,
where the upload stage finds it.
"""

import json
import os
import signal
import sys
import time

from reporter import Reporter


def _sigterm(signum, frame):
    # Python's default SIGTERM action skips `finally`; raising lets the reporter drain.
    raise SystemExit(128 + signum)


def load_config():
    with open(
        os.path.join(os.environ["TRAINPOD_BUNDLE_DIR"], "config.json"), encoding="utf-8"
    ) as f:
        return json.load(f)


def precision(torch, requested):
    """bf16 only where the GPU supports it; fp16 on older GPUs; full precision on CPU."""
    if not torch.cuda.is_available():
        return {"bf16": False, "fp16": False, "use_cpu": True}, None
    if requested in ("bf16", "auto") and torch.cuda.is_bf16_supported():
        return {"bf16": True, "fp16": False}, torch.bfloat16
    return {"bf16": False, "fp16": True}, torch.float16


def preflight_failure(cause):
    """Report a failed check as the preflight stage's, with its cause (the bootstrap reads both)."""
    state = os.environ["TRAINPOD_STATE_DIR"]
    with open(os.path.join(state, "stage"), "w", encoding="utf-8") as f:
        f.write("preflight")
    with open(os.path.join(state, "cause"), "w", encoding="utf-8") as f:
        f.write(cause)
    raise SystemExit(12)


# What Rust's `str::trim` strips (Unicode White_Space). Python's `str.strip()` also strips
# U+001C to U+001F, so the set is spelled out to turn each row into what `convert_alpaca` writes.
_WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def alpaca_to_prompt_completion(row):
    """An Alpaca row as a prompt and a completion, as trainpod's `convert_alpaca` writes it: the
    instruction, then the input after a blank line when it has more than white space."""
    extra = (row.get("input") or "").strip(_WHITE_SPACE)
    instruction = row["instruction"]
    prompt = f"{instruction}\n\n{extra}" if extra else instruction
    return {"prompt": prompt, "completion": row["output"]}


def training_rows(dataset, dataset_format):
    """The rows TRL trains on. TRL reads `messages`, `prompt`/`completion` and `text` as they
    are; Alpaca's fields it does not know, so they become prompt/completion, and the other
    columns go, as in the converted file."""
    if dataset_format != "alpaca":
        return dataset
    return dataset.map(alpaca_to_prompt_completion, remove_columns=dataset.column_names)


def write_cause(err):
    """The exception as the final status's cause: its type and the first line of its message,
    in at most 500 characters (the log tail has the traceback)."""
    lines = str(err).strip().splitlines()
    cause = f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__
    try:
        with open(
            os.path.join(os.environ["TRAINPOD_STATE_DIR"], "cause"), "w", encoding="utf-8"
        ) as f:
            f.write(cause[:500])
    except OSError:
        # The exit code still reaches the final status; a cause is only better.
        pass


def make_callback(rep, progress_s):
    from transformers import TrainerCallback

    class JobCallback(TrainerCallback):
        """Only enqueues events; every body is guarded since Trainer does not catch them."""

        def __init__(self):
            self.t0 = None
            self.last = 0.0

        def on_train_begin(self, args, state, control, **kw):
            try:
                self.t0 = time.time()
                rep.emit("started", max_steps=state.max_steps, epochs=args.num_train_epochs)
            except Exception:  # noqa: BLE001, S110
                pass

        def on_step_end(self, args, state, control, **kw):
            try:
                if rep.cancel_requested:
                    control.should_training_stop = True
                now = time.time()
                if (
                    state.is_world_process_zero
                    and state.global_step
                    and now - self.last >= progress_s
                ):
                    self.last = now
                    done = state.global_step
                    eta = (now - self.t0) / done * (state.max_steps - done) if self.t0 else None
                    rep.emit(
                        "progress",
                        step=done,
                        max_steps=state.max_steps,
                        epoch=state.epoch,
                        eta_s=eta,
                    )
            except Exception:  # noqa: BLE001, S110
                pass
            return control

        def on_log(self, args, state, control, logs=None, **kw):
            try:
                if state.is_world_process_zero:
                    rep.emit(
                        "log", step=state.global_step, max_steps=state.max_steps, **(logs or {})
                    )
            except Exception:  # noqa: BLE001, S110
                pass

        def on_train_end(self, args, state, control, **kw):
            try:
                rep.emit("trained", step=state.global_step, max_steps=state.max_steps)
            except Exception:  # noqa: BLE001, S110
                pass

    return JobCallback()


def train(cfg, rep):
    rep.emit("phase", phase="loading")
    import torch
    from datasets import load_dataset
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    if cfg["runtime"]["expect_gpu"] and not torch.cuda.is_available():
        preflight_failure("no GPU is visible to torch (check the image's CUDA against the driver)")
    t = cfg["training"]
    hp = t["hyperparameters"]
    out = os.path.join(os.environ["TRAINPOD_WORK_DIR"], "output")
    flags, dtype = precision(torch, hp["precision"])
    lora = t["method"] in ("lora", "qlora")
    args = SFTConfig(
        output_dir=os.path.join(out, "checkpoints"),
        num_train_epochs=hp["epochs"],
        max_steps=hp["max_steps"] or -1,
        per_device_train_batch_size=hp["batch_size"],
        gradient_accumulation_steps=hp["gradient_accumulation_steps"],
        learning_rate=hp["learning_rate"],
        max_length=hp["max_length"],
        logging_steps=hp["logging_steps"],
        save_strategy="steps" if hp["save_steps"] else "no",
        save_steps=hp["save_steps"] or 500,
        gradient_checkpointing=hp["gradient_checkpointing"] and torch.cuda.is_available(),
        report_to="none",
        seed=hp["seed"],
        model_init_kwargs={"dtype": dtype} if dtype is not None else None,
        **flags,
    )
    extra = {}
    if lora:
        from peft import LoraConfig

        extra["peft_config"] = LoraConfig(
            r=hp["lora_r"],
            lora_alpha=hp["lora_alpha"],
            lora_dropout=hp["lora_dropout"],
            target_modules=hp["lora_target_modules"],
            task_type="CAUSAL_LM",
        )
    if t["method"] == "qlora":
        from transformers import BitsAndBytesConfig

        extra["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=dtype,
            bnb_4bit_use_double_quant=True,
        )
    dataset = training_rows(
        load_dataset("json", data_files=os.environ["TRAINPOD_DATASET"], split="train"),
        t.get("dataset_format"),
    )
    tokenizer = AutoTokenizer.from_pretrained(t["model"])
    trainer = SFTTrainer(
        model=t["model"],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[make_callback(rep, cfg["runtime"]["progress_s"])],
        **extra,
    )
    rep.emit("phase", phase="training")
    result = trainer.train()
    final = os.path.join(out, "final")
    if lora:
        trainer.save_model(final)
    else:
        # Shards under S3's 5 GB single-PUT limit (the transformers default is 50 GB).
        trainer.model.save_pretrained(final, max_shard_size="4GB")
        tokenizer.save_pretrained(final)
    summary = {
        "train_loss": result.training_loss,
        "steps": result.global_step,
        "runtime_s": result.metrics.get("train_runtime"),
    }
    with open(os.path.join(out, "result.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f)
    rep.emit("result", **summary)


def main():
    signal.signal(signal.SIGTERM, _sigterm)
    cfg = load_config()
    rep = Reporter.from_bundle().start()
    try:
        train(cfg, rep)
    except BaseException as err:
        rep.emit("error", error=type(err).__name__, message=str(err)[:2000])
        # Not for SystemExit: the trainer's own preflight wrote its cause, and a signal's exit
        # code says what happened.
        if isinstance(err, Exception):
            write_cause(err)
        raise
    finally:
        rep.close(timeout=10.0)


if __name__ == "__main__":
    sys.exit(main())
