"""Fine-tune with TRL's SFTTrainer (LoRA, QLoRA or full) from the bundle's config.json.

Every value comes from the config; this file is a constant template. Progress goes to the
reporter (never able to slow or crash training); the model is saved under the work directory,
where the upload stage finds it.

With several processes (one per GPU, on one node or several, started by `accelerate launch`)
every process runs this file: only global rank 0 reports, saves and writes the result; LoRA and
QLoRA train data parallel, full fine-tuning shards the model with FSDP on CUDA (on CPU, gloo
trains data parallel).
"""

import ctypes
import dataclasses
import json
import os
import signal
import sys
import time

from reporter import Reporter

# How long a process waits at a collective for the others. A peer that exits or is killed
# closes its connections and is noticed at the next collective within about a second; this
# bounds the wait for one that hangs or whose host vanishes without a word. It must exceed the
# longest wait the job makes on purpose: a node still loading (downloading) the model while the
# others wait at the first collective, or rank 0 writing the checkpoint while the others wait.
COLLECTIVE_TIMEOUT_S = 900

PR_SET_PDEATHSIG = 1

# Architectures whose attention mask transformers derives from position ids, so that sequences
# concatenated into one row (padding-free) stay apart under sdpa as under flash attention
# (transformers' masking_utils `find_packed_sequence_indices`).
PACKED_ARCHITECTURES = frozenset(
    {
        "llama",
        "mistral",
        "mixtral",
        "qwen2",
        "qwen3",
        "qwen3_moe",
        "gemma",
        "gemma2",
        "gemma3_text",
        "phi3",
        "olmo2",
        "granite",
        "smollm3",
    }
)
PACKED_ATTENTION = frozenset({"sdpa", "flash_attention_2", "flash_attention_3"})


def _sigterm(signum, frame):
    # Python's default SIGTERM action skips `finally`; raising lets the reporter drain.
    raise SystemExit(128 + signum)


def world_size():
    """How many training processes the job has: torchrun's WORLD_SIZE under a launcher (where
    LOCAL_RANK is set); 1 otherwise (RunPod's own WORLD_SIZE on a cluster node is not ours)."""
    return int(os.environ["WORLD_SIZE"]) if "LOCAL_RANK" in os.environ else 1


def die_with_launcher():
    """torchrun starts each process in a session of its own, beyond the process group the
    bootstrap stops: have the kernel kill this one when torchrun dies, however it dies."""
    if "LOCAL_RANK" not in os.environ:
        return
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        # torchrun died before the kernel was asked.
        os._exit(1)


def rank_marker():
    """A file that lives as long as this process runs Python: one left behind tells the
    bootstrap that this process was killed outright (torchrun exits 1 however one failed)."""
    if "LOCAL_RANK" not in os.environ:
        return None
    folder = os.path.join(os.environ["TRAINPOD_STATE_DIR"], "ranks")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, os.environ["RANK"])
    open(path, "w").close()
    return path


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
    first_cause(cause)
    raise SystemExit(12)


def first_cause(cause):
    """Write the final status's cause unless a process of this node wrote one first: the first
    failure is the one that made the others fail."""
    try:
        with open(
            os.path.join(os.environ["TRAINPOD_STATE_DIR"], "cause"), "x", encoding="utf-8"
        ) as f:
            f.write(cause[:500])
    except OSError:
        # Written already, or unwritable: the exit code still reaches the final status.
        pass


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
    if lost_peer(err):
        cause = (
            f"a collective across the job's {world_size()} training processes failed: a peer "
            f"process or node was lost or stopped answering (its own log says why): {cause}"
        )
    first_cause(cause)


def lost_peer(err):
    """Whether `err` is a collective failing, which is how a process learns that a peer died."""
    if world_size() == 1:
        return False
    try:
        from torch.distributed import DistError
    except ImportError:
        DistError = ()  # noqa: N806 - the class, where this torch has it
    text = str(err).lower()
    return isinstance(err, DistError) or "gloo" in text or "nccl" in text


def agreed(args, cancel, save):
    """Rank 0's view of a cancel and of a checkpoint due, on every rank at the same step: a
    rank that stopped or saved alone would leave the others waiting at its next collective."""
    if args.world_size == 1:
        return cancel, save
    import torch
    import torch.distributed as dist

    flags = torch.tensor([int(cancel), int(save)], device=args.device)
    dist.broadcast(flags, src=0)
    return bool(flags[0].item()), bool(flags[1].item())


def make_callback(rep, progress_s, run):
    from transformers import TrainerCallback

    class JobCallback(TrainerCallback):
        """Only enqueues events; every body is guarded since Trainer does not catch them, but
        for the checkpoint decision, which every rank must take together."""

        def __init__(self):
            self.t0 = None
            self.last = 0.0
            self.saved_at = time.time()

        def on_train_begin(self, args, state, control, **kw):
            try:
                self.t0 = time.time()
                self.saved_at = self.t0
                rep.emit(
                    "started",
                    max_steps=state.max_steps,
                    epochs=args.num_train_epochs,
                    processes=args.world_size,
                    resumed_from=run["resumed_from"],
                    features=run["features"],
                )
            except Exception:  # noqa: BLE001, S110
                pass

        def on_step_end(self, args, state, control, **kw):
            # Outside the guard: a collective that fails means a peer is gone, and training
            # must end with it.
            every = run["save_minutes"] * 60
            due = bool(every) and time.time() - self.saved_at >= every
            cancel, save = agreed(args, rep.cancel_requested, due)
            if cancel:
                control.should_training_stop = True
            if save:
                control.should_save = True
            try:
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

        def on_save(self, args, state, control, **kw):
            self.saved_at = time.time()
            if state.is_world_process_zero:
                keep_checkpoint(run["cfg"], rep, args.output_dir, state.global_step)

        def on_train_end(self, args, state, control, **kw):
            try:
                rep.emit("trained", step=state.global_step, max_steps=state.max_steps)
            except Exception:  # noqa: BLE001, S110
                pass

    return JobCallback()


def keep_checkpoint(cfg, rep, output_dir, step):
    """Copies the checkpoint just saved to durable storage. A failure costs only the ability
    to resume from it: training goes on, and the event says so."""
    import checkpoint

    if checkpoint.destination(cfg) is None:
        return
    folder = os.path.join(output_dir, f"checkpoint-{step}")
    started = time.time()
    try:
        files = checkpoint.save(cfg, folder, step)
    except Exception as err:  # noqa: BLE001 - training goes on without this copy
        rep.emit("checkpoint_failed", step=step, error=f"{type(err).__name__}: {err}"[:500])
        return
    rep.emit(
        "checkpoint",
        step=step,
        files=len(files),
        bytes=sum(f["size"] for f in files),
        seconds=round(time.time() - started, 3),
    )


def resumed_step():
    """The step of the checkpoint the bootstrap's resume stage put in place, or None."""
    try:
        with open(
            os.path.join(os.environ["TRAINPOD_STATE_DIR"], "resume_step"), encoding="ascii"
        ) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def evaluation(hp, dataset, held_out=None):
    """The training and evaluation rows (`held_out`, the evaluation dataset, or a share of the
    dataset), and the SFTConfig arguments that evaluate on a schedule and, with a patience,
    stop early and keep the best checkpoint."""
    fraction = hp.get("eval_fraction") or 0.0
    if held_out is None and fraction > 0:
        split = dataset.train_test_split(test_size=fraction, seed=hp["seed"])
        dataset, held_out = split["train"], split["test"]
    if held_out is None:
        return dataset, None, {}
    # A fraction of the run: about ten evaluations when not given.
    every = hp.get("eval_steps") or 0.1
    args = {
        "eval_strategy": "steps",
        "eval_steps": every,
        "per_device_eval_batch_size": hp["batch_size"],
    }
    if hp.get("early_stopping_patience"):
        args.update(
            load_best_model_at_end=True,
            metric_for_best_model="eval_loss",
            greater_is_better=False,
            # The best checkpoint must exist to be kept: one at each evaluation.
            save_strategy="steps",
            save_steps=every,
        )
    return dataset, held_out, args


def padding_free(trainer, wanted):
    """Turns the trainer's padded batches into padding-free ones (each batch's sequences
    concatenated with their position ids) where the model's architecture and attention
    implementation keep them apart; returns whether it did."""
    config = getattr(trainer.model, "config", None)
    collator = trainer.data_collator
    if not (
        wanted
        and config is not None
        and config.model_type in PACKED_ARCHITECTURES
        and getattr(config, "_attn_implementation", None) in PACKED_ATTENTION
        and dataclasses.is_dataclass(collator)
        and hasattr(collator, "padding_free")
    ):
        return False
    trainer.data_collator = dataclasses.replace(collator, padding_free=True)
    return True


def fused_kernels(torch):
    """Liger's fused kernels, where they are installed and a GPU runs them."""
    if not torch.cuda.is_available():
        return False
    import importlib.util

    return importlib.util.find_spec("liger_kernel") is not None


def distributed(torch, lora, checkpointing):
    """The SFTConfig arguments of a run over several processes, and whether to checkpoint
    activations through the trainer: (arguments, checkpointing)."""
    spread = {"ddp_timeout": COLLECTIVE_TIMEOUT_S}
    if lora or not torch.cuda.is_available():
        # Data parallel: every adapter (or, on CPU, every weight) takes part in each step.
        spread["ddp_find_unused_parameters"] = False
        return spread, checkpointing
    # Full fine-tuning of a model that may not fit one GPU: FSDP shards weights, gradients and
    # optimizer state (full shard), rank 0 alone reads the checkpoint, and FSDP's own activation
    # checkpointing replaces the trainer's, which would gather every layer again.
    spread["fsdp"] = True
    spread["fsdp_config"] = {
        "version": 2,
        "reshard_after_forward": True,
        "state_dict_type": "FULL_STATE_DICT",
        "cpu_ram_efficient_loading": True,
        "activation_checkpointing": checkpointing,
    }
    return spread, False


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
    checkpointing = hp["gradient_checkpointing"] and torch.cuda.is_available()
    model_init = {"dtype": dtype} if dtype is not None else {}
    spread = {}
    if world_size() > 1:
        spread, checkpointing = distributed(torch, lora, checkpointing)
        # One whole model per process (TRL would spread it over this node's GPUs).
        model_init["device_map"] = None
    dataset = training_rows(
        load_dataset("json", data_files=os.environ["TRAINPOD_DATASET"], split="train"),
        t.get("dataset_format"),
    )
    held_out = None
    if os.environ.get("TRAINPOD_EVAL_DATASET"):
        held_out = training_rows(
            load_dataset("json", data_files=os.environ["TRAINPOD_EVAL_DATASET"], split="train"),
            t.get("eval_dataset_format"),
        )
    dataset, held_out, schedule = evaluation(hp, dataset, held_out)
    saving = {
        "save_strategy": "steps" if hp["save_steps"] else "no",
        "save_steps": hp["save_steps"] or 500,
    }
    liger = fused_kernels(torch)
    args = SFTConfig(
        output_dir=os.path.join(out, "checkpoints"),
        num_train_epochs=hp["epochs"],
        max_steps=hp["max_steps"] or -1,
        per_device_train_batch_size=hp["batch_size"],
        gradient_accumulation_steps=hp["gradient_accumulation_steps"],
        learning_rate=hp["learning_rate"],
        max_length=hp["max_length"],
        logging_steps=hp["logging_steps"],
        # The pod's disk keeps the newest checkpoint (and the best, when early stopping).
        save_total_limit=1,
        use_liger_kernel=liger,
        gradient_checkpointing=checkpointing,
        report_to="none",
        seed=hp["seed"],
        model_init_kwargs=model_init or None,
        **flags,
        **spread,
        **{**saving, **schedule},
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
    if hp.get("early_stopping_patience") and held_out is not None:
        from transformers import EarlyStoppingCallback

        stopper = EarlyStoppingCallback(early_stopping_patience=hp["early_stopping_patience"])
    else:
        stopper = None
    run = {
        "cfg": cfg,
        "save_minutes": hp.get("save_minutes") or 0,
        "resumed_from": resumed_step(),
        "features": {"padding_free": False, "fused_kernels": liger, "precision": flags_name(flags)},
    }
    tokenizer = AutoTokenizer.from_pretrained(t["model"])
    trainer = SFTTrainer(
        model=t["model"],
        args=args,
        train_dataset=dataset,
        eval_dataset=held_out,
        processing_class=tokenizer,
        callbacks=[make_callback(rep, cfg["runtime"]["progress_s"], run)]
        + ([stopper] if stopper else []),
        **extra,
    )
    run["features"]["padding_free"] = padding_free(trainer, hp.get("padding_free", True))
    rep.emit("phase", phase="training")
    resume_dir = None
    if run["resumed_from"] is not None:
        resume_dir = os.path.join(out, "checkpoints", f"checkpoint-{run['resumed_from']}")
    result = trainer.train(resume_from_checkpoint=resume_dir)
    final = os.path.join(out, "final")
    # Every process takes part in saving (FSDP gathers the shards); only rank 0 writes.
    main_process = trainer.accelerator.is_main_process
    if lora:
        trainer.save_model(final)
    else:
        state = None
        if trainer.is_fsdp_enabled:
            state = trainer.accelerator.get_state_dict(trainer.model)
        if main_process:
            # Shards under S3's 5 GB single-PUT limit (the transformers default is 50 GB).
            trainer.model.save_pretrained(final, state_dict=state, max_shard_size="4GB")
            tokenizer.save_pretrained(final)
    if not main_process:
        return
    summary = {
        "train_loss": result.training_loss,
        "steps": result.global_step,
        "runtime_s": result.metrics.get("train_runtime"),
        "resumed_from": run["resumed_from"],
    }
    summary.update(evaluated(trainer, stopper))
    with open(os.path.join(out, "result.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f)
    rep.emit("result", **summary)


def flags_name(flags):
    if flags.get("bf16"):
        return "bf16"
    return "fp16" if flags.get("fp16") else "fp32"


def evaluated(trainer, stopper):
    """The held-out loss the run ends with (the best one when early stopping kept it), and
    whether it stopped early."""
    state = trainer.state
    losses = [e["eval_loss"] for e in state.log_history if "eval_loss" in e]
    if not losses:
        return {}
    best = state.best_metric if stopper is not None and state.best_metric is not None else None
    return {
        "eval_loss": best if best is not None else losses[-1],
        "stopped_early": bool(stopper is not None and state.global_step < state.max_steps),
    }


def main():
    signal.signal(signal.SIGTERM, _sigterm)
    die_with_launcher()
    cfg = load_config()
    # Only global rank 0 (of the primary node) reports; the others' reporter drops events.
    rep = Reporter.from_bundle().start()
    marker = None
    try:
        marker = rank_marker()
        train(cfg, rep)
    except BaseException as err:
        rep.emit("error", error=type(err).__name__, message=str(err)[:2000])
        # Not for SystemExit: the trainer's own preflight wrote its cause, and a signal's exit
        # code says what happened (under a launcher, a peer failed and it stops the rest).
        if isinstance(err, Exception):
            write_cause(err)
        raise
    finally:
        rep.close(timeout=10.0)
        if marker:
            os.remove(marker)


if __name__ == "__main__":
    sys.exit(main())
