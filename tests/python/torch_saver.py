"""torch_saver.py -- a process saving checkpoints for test_torch.py until killed: version v
is a state_dict whose every tensor is filled with v (about 12 MiB), saved with
npmu.torch.save; each v is printed once save returned. Usage: torch_saver.py SERVER NAME"""
import sys

import torch

import npmu
import npmu.torch

server, name = sys.argv[1], sys.argv[2]
state = {'w%d' % i: torch.empty(1 << 18) for i in range(12)}
with npmu.Connection(server) as conn:
    v = 0
    while True:
        v += 1
        for t in state.values():
            t.fill_(v)
        npmu.torch.save({'v': v, 'tensors': state}, conn, name)
        print(v, flush=True)
