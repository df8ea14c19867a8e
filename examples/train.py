"""train.py -- a training run that survives SIGKILL (make demo-train, scripts/demo-train.sh).

A small model learns a synthetic task on the CPU with fixed seeds; every step, model,
optimizer and RNG state are checkpointed into a mirrored stream with npmu.torch.Checkpointer.
Started twice: the first process (the primary) resumes nothing and trains; the second (the
backup) waits in resume() until the primary's lease lapses (it was killed), takes over from
the last committed step and finishes; it then trains the same steps from scratch without
npmu and compares the final weights bit for bit.

Usage: train.py SERVER NAME STEPS ACKS STATUS [KILLED]
  ACKS    the primary appends each step once its checkpoint is committed
  STATUS  the primary's checkpoint cost so far (one line, rewritten)
  KILLED  (the backup) the time the primary was killed, written by the script that killed it
"""
import hashlib
import os
import sys
import time

import torch

import npmu
import npmu.torch


def model_and_optimizer():
    """The model and its optimizer, initialised from seed 0."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(32, 128), torch.nn.ReLU(), torch.nn.Dropout(0.1),
        torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def train_step(model, opt, step):
    """One step on batch `step` (its own seed: any process draws the same batch)."""
    g = torch.Generator().manual_seed(1000 + step)
    x = torch.randn(64, 32, generator=g)
    y = (x[:, :10].argmax(dim=1) + step) % 10
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


def state_of(model, opt):
    """Everything a resumed run needs to go on exactly: weights, optimizer, RNG."""
    return {'model': model.state_dict(), 'optim': opt.state_dict(),
            'rng': torch.get_rng_state()}


def digest(model):
    """SHA-256 of the final weights' bytes."""
    h = hashlib.sha256()
    for t in model.state_dict().values():
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


def ms(seconds, p):
    """The p-th percentile of a list of seconds, in milliseconds."""
    s = sorted(seconds)
    return 1000 * s[min(len(s) - 1, int(p / 100 * len(s)))]


def main():
    server, name, steps, acks, status = sys.argv[1:6]
    steps = int(steps)
    killed_file = sys.argv[6] if len(sys.argv) > 6 else None
    torch.set_num_threads(1)  # the same arithmetic in every process
    model, opt = model_and_optimizer()
    with npmu.Connection(server) as conn, \
            npmu.torch.Checkpointer(conn, name, every=1, mirror=True, wait=120) as ck:
        last = ck.resume()  # a backup waits here while the primary lives
        resumed = time.time()
        start = 0
        if last is not None:
            step, state = last
            model.load_state_dict(state['model'])
            opt.load_state_dict(state['optim'])
            torch.set_rng_state(state['rng'])
            start = step + 1
        if killed_file:
            told = int(open(acks).read().split()[-1])
            taken = resumed - float(open(killed_file).read())
            print(f'backup: took over at step {start - 1}; the primary had been told {told} '
                  f'were committed: {max(0, told - (start - 1))} step(s) lost')
            print(f'backup: takeover {taken * 1000:.0f} ms after the primary was killed '
                  '(lease lapse, fencing, reading the checkpoint)')
        with open(acks, 'a') as out:
            for step in range(start, steps):
                train_step(model, opt, step)
                ck.step(step, state_of(model, opt))
                if not killed_file:
                    print(step, file=out, flush=True)
                    if step % 10 == 0:
                        nbytes = sum(t.numel() * t.element_size() for t in
                                     model.state_dict().values()) * 3
                        with open(status + '.new', 'w') as f:
                            print(f'primary: step {step}, checkpoint cost per step p50 '
                                  f'{ms(ck.save_seconds, 50):.2f} ms, p99 '
                                  f'{ms(ck.save_seconds, 99):.2f} ms (about {nbytes >> 10} '
                                  'KiB of model and optimizer each)', file=f)
                        os.replace(status + '.new', status)
    final = digest(model)
    if killed_file:
        reference, reference_opt = model_and_optimizer()
        for step in range(steps):
            train_step(reference, reference_opt, step)
        expect = digest(reference)
        print(f'backup: finished {steps} steps: weights {final}; an uninterrupted run: '
              f'{expect}: {"EQUAL" if final == expect else "DIFFERENT"}')
        print(f'backup: checkpoint cost per step p50 {ms(ck.save_seconds, 50):.2f} ms')
        return 0 if final == expect else 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
