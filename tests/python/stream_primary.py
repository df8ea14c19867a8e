"""stream_primary.py -- a Python primary for test_streams.py: commits step after step into
stream NAME (8 bytes of step, then the step's payload) and prints each step once its commit
returned, until killed. Usage: stream_primary.py SERVER NAME"""
import sys

import numpy as np

import npmu

server, name = sys.argv[1], sys.argv[2]
with npmu.Connection(server) as conn, conn.primary(name) as s:
    state = np.zeros(1 << 14, dtype=np.uint64)
    step = s.seq
    while True:
        step += 1
        state[:] = step
        s.commit(state)
        print(step, flush=True)
