"""python_bench.py -- the Python side of npmu_bench's `python` section (bench/python.c starts it
with /usr/bin/python3 and the build's package): 4 KiB placed writes, numpy put and get of a
whole region, and npmu.torch.save/load of a state_dict next to torch.save to a local file with
fsync and torch.load. Prints one line per figure, "NAME SAMPLE SAMPLE ...", for python.c.
Usage: python_bench.py SERVER REGION WRITES BLOCKS REPS STATE_BYTES DIR MODE
MODE: write4k (one block of 4 KiB writes), putget (REPS puts and reads of the whole region) or
torch (the state_dict figures); python.c alternates the first two with C's runs of the same."""
import os
import sys
import time

import numpy as np

import npmu


def write_4k(region, n, blocks):
    """Microseconds of n placed 4 KiB writes per block, after a warm-up (as C's
    region_latency)."""
    buf = np.zeros(4096, dtype=np.uint8)
    for _ in range(50):
        region.write(0, buf)
    out = []
    clock = time.perf_counter_ns
    for _ in range(blocks * n):
        t = clock()
        region.write(0, buf)
        out.append((clock() - t) / 1000)
    return out


def put_get(region, reps):
    """MiB/s of a numpy array as large as the region, put (persistent) and read back."""
    a = np.ones(region.size, dtype=np.uint8)
    region.put([(0, a)])  # warm-up
    put, get = [], []
    for _ in range(reps):
        t = time.perf_counter()
        region.put([(0, a)])
        put.append(a.nbytes / (1 << 20) / (time.perf_counter() - t))
        t = time.perf_counter()
        region.read_into(0, a)
        get.append(a.nbytes / (1 << 20) / (time.perf_counter() - t))
    return put, get


def torch_figures(conn, nbytes, reps, scratch):
    """Milliseconds of npmu.torch.save/load and of torch.save + fsync / torch.load of a
    state_dict of about nbytes (float32 tensors of 4 MiB), alternating."""
    import torch
    import npmu.torch
    n = max(1, nbytes // (4 << 20))
    sd = {f'layer{i}.weight': torch.randn(1 << 20) for i in range(n)}
    path = os.path.join(scratch, 'bench-state.pt')
    out = {'npmu_save': [], 'npmu_load': [], 'file_save': [], 'file_load': []}
    for _ in range(reps):
        t = time.perf_counter()
        npmu.torch.save(sd, conn, 'bench.pt')
        out['npmu_save'].append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        npmu.torch.load(conn, 'bench.pt')
        out['npmu_load'].append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        with open(path, 'wb') as f:
            torch.save(sd, f)
            f.flush()
            os.fsync(f.fileno())
        out['file_save'].append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        torch.load(path)
        out['file_load'].append(1000 * (time.perf_counter() - t))
    os.unlink(path)
    for r in [r.name for r in conn.regions() if r.name.startswith('bench.pt')]:
        conn.delete_region(r)
    out['state_mb'] = [n * 4 * (1 << 20) / 1e6]
    return out


def main():
    """Every figure, one line each."""
    if len(sys.argv) != 9 or sys.argv[8] not in ('write4k', 'putget', 'torch'):
        sys.exit(__doc__)
    server, name, writes, _blocks, reps, state_bytes, scratch, mode = sys.argv[1:9]
    figures = {}
    with npmu.Connection(server) as conn:
        if mode == 'torch':
            figures.update(torch_figures(conn, int(state_bytes), int(reps), scratch))
        else:
            with conn.open_region(name, write=True) as r:
                if mode == 'write4k':
                    figures['write4k_us'] = write_4k(r, int(writes), 1)
                else:
                    figures['put_mibs'], figures['get_mibs'] = put_get(r, int(reps))
    for k, v in figures.items():
        print(k, ' '.join(f'{x:.3f}' for x in v), flush=True)


if __name__ == '__main__':
    main()
