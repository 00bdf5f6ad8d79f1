"""Stopping a training run on request without losing its steps: Ctrl-C (SIGINT) or SIGTERM — what a cluster
scheduler sends before it preempts a job, and what `timeout` and `kill` send — lets the current optimizer step
finish, saves a checkpoint of it and ends the run with exit status 128 + the signal's number (130 for Ctrl-C,
143 for SIGTERM: the shell's codes for a death by that signal). `--resume_from_checkpoint latest` continues it.

* `StopRequests`: the signal handlers; `train()` (hf_transformer101/training.py) reads them once per step.
* `StopOnSignal`: the same for transformers' `Trainer` (recipes/finetune_glue.py), as a callback.
  transformers' own `--enable_jit_checkpoint` listens to SIGTERM only, not to Ctrl-C.
* `TrainingInterrupted`: what the run raises once the checkpoint is saved.

Processes of one run stop at the same step: a process stops when any of them got a signal, agreed by a
reduction at the end of every step (a run of several processes hangs if one leaves the others' collectives).
"""

import os
import signal
import sys
import threading
import time

import torch
from tqdm.auto import tqdm
from transformers import TrainerCallback

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

# A second Ctrl-C this long after the first stops at once. A sooner one is the same request: `accelerate launch`
# (torchrun) passes the terminal's Ctrl-C on to its workers, which got it from the terminal already.
FORCE_AFTER_SECONDS = 1.0


def is_first_process():
    """Whether this is the first process of a run (or its only one), known before accelerate is set up: the
    launchers (torchrun, accelerate launch) give every process its RANK."""
    return os.environ.get("RANK", "0") == "0"


class TrainingInterrupted(SystemExit):
    """A stop request honoured: `checkpoint` holds the run at `step`. Uncaught, it ends the program quietly (a
    SystemExit prints no traceback) with exit status 128 + the signal's number; catch it to go on instead.
    `signum` None: another process of the run got the signal, this one is stopped as by SIGTERM."""

    def __init__(self, checkpoint, step, signum):
        signum = signum or signal.SIGTERM
        super().__init__(128 + signum)
        self.checkpoint, self.step, self.signum = checkpoint, step, signum
        self.message = (f"{signal.Signals(signum).name}: stopped after step {step}, saved {checkpoint}; "
                        f"continue with --resume_from_checkpoint latest")


class StopRequests:
    """While entered (`with StopRequests() as stop:`), SIGINT and SIGTERM set `stop.signum` instead of ending the
    program, and the training loop checks it after each step. Signal handlers exist in the main thread only:
    entered from another thread, it installs nothing and the signals keep their usual effect."""

    def __init__(self):
        self.signum = None  # the first stop signal received, or None
        self._received_at = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                previous = signal.signal(signum, self._request)
                self._previous[signum] = signal.SIG_DFL if previous is None else previous  # None: set from C
        return self

    def __exit__(self, *exc_info):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def _request(self, signum, frame):
        if self.signum is None:
            self.signum, self._received_at = signum, time.monotonic()
            if is_first_process():  # said once for a run of several processes
                tqdm.write(f"{signal.Signals(signum).name}: stopping after this step, with a checkpoint "
                           "(Ctrl-C again to stop at once)", file=sys.stderr)
        elif signum == signal.SIGINT and time.monotonic() - self._received_at >= FORCE_AFTER_SECONDS:
            raise KeyboardInterrupt


def stop_requested_anywhere(local_request, device):
    """Whether any process of the run got a stop signal (`local_request`: this one did). All processes must call
    it at the same step: with torch.distributed running, it is a collective (a max over one number)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return local_request
    flag = torch.tensor(float(local_request), device=device)
    torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
    return bool(flag.item())


class StopOnSignal(TrainerCallback):
    """`StopRequests` for `Trainer`: after the step in which a stop signal arrived (in any process), the
    trainer saves a checkpoint and stops training, and `trainer.train()` returns early. The signals are caught
    while `requests` is entered, around `trainer.train()`:

        stop = StopOnSignal(StopRequests())
        trainer = Trainer(..., callbacks=[stop])
        with stop.requests:
            trainer.train()
        if stop.stopped_at_step is not None:
            raise stop.interrupted(trainer.args.output_dir)  # rather than evaluate an unfinished model
    """

    def __init__(self, requests):
        self.requests = requests
        self.stopped_at_step = None

    def on_step_end(self, args, state, control, **kwargs):
        if stop_requested_anywhere(self.requests.signum is not None, args.device):
            self.stopped_at_step = state.global_step
            control.should_save = control.should_training_stop = True
            # An evaluation would delay the stop, and under save_strategy="best" it would decide on the save.
            control.should_evaluate = False

    def on_epoch_end(self, args, state, control, **kwargs):
        if self.stopped_at_step is not None:  # saved at the step already: no second save or evaluation
            control.should_save = control.should_evaluate = False

    def interrupted(self, output_dir):
        """The `TrainingInterrupted` that ends a run stopped at `stopped_at_step`."""
        checkpoint = f"{output_dir}/checkpoint-{self.stopped_at_step}"
        return TrainingInterrupted(checkpoint, self.stopped_at_step, self.requests.signum)
