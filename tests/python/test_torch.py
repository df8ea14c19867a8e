"""test_torch.py -- npmu.torch: state_dicts round trip exactly, a torn or corrupt checkpoint
is never loaded (the previous whole one is), a save killed mid-way loses nothing committed,
the training-loop Checkpointer resumes, and bad input raises clear exceptions."""
import struct
import time
import zlib
from collections import OrderedDict

import pytest
import torch

import npmu
import npmu.torch as nt
from conftest import child, kill


def model_and_optimizer():
    """A small model with one optimizer step taken (Adam: state per parameter)."""
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.BatchNorm1d(32),
                            torch.nn.ReLU(), torch.nn.Linear(32, 4))
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    m(torch.randn(8, 16)).sum().backward()
    opt.step()
    return m, opt


def assert_same(a, b, path='obj'):
    """a and b equal: same types, same tensors (dtype, shape, bytes), same values."""
    assert type(a) is type(b), path
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), path
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            assert_same(a[k], b[k], f'{path}[{k!r}]')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f'{path}[{i}]')
    else:
        assert a == b, path


def test_state_dict_round_trip(conn, name):
    """Model and optimizer state_dicts, nested with tuples, plain values, every dtype, 0-d,
    empty and non-contiguous tensors, come back exactly; tied tensors stay shared; the
    model loads the result."""
    m, opt = model_and_optimizer()
    shared = torch.arange(6.0)
    obj = {'model': m.state_dict(), 'optim': opt.state_dict(), 'step': 7, 'lr': 0.5,
           'name': 'run', 'none': None, 'flags': (True, False), 'ints': {1: 'a', 2: [3, 4]},
           'scalar': torch.tensor(2.5, dtype=torch.float64), 'empty': torch.empty(0, 3),
           'transposed': torch.arange(12.0).reshape(3, 4).t(),
           'tied': [shared, shared],
           'dtypes': [torch.ones(3, dtype=d) for d in nt.DTYPES.values()]}
    seq = nt.save(obj, conn, name)
    back = nt.load(conn, name)
    assert seq == 1
    assert_same(back, obj)
    assert back['model']._metadata == obj['model']._metadata
    assert back['tied'][0] is back['tied'][1]
    m2, opt2 = model_and_optimizer()
    m2.load_state_dict(back['model'])
    opt2.load_state_dict(back['optim'])
    assert nt.save(obj, conn, name) == 2


def corrupt_data(conn, slot):
    """Flip bytes of every tensor in data region slot (as a unit's fault would)."""
    with conn.open_region(slot, write=True) as r:
        r.write(0, b'\xff' * 64)


def test_torn_checkpoint_falls_back(conn, name):
    """A checkpoint whose tensors fail their checksum, or whose manifest fails its own,
    is skipped for the previous whole one; none whole: CorruptError saying why."""
    for v in (1, 2, 3):  # keeping 3: checkpoint s in NAME.d{s % 3}
        nt.save({'v': v, 't': torch.full((100,), float(v))}, conn, name, keep=3)
    corrupt_data(conn, f'{name}.d0')  # checkpoint 3
    back = nt.load(conn, name)
    assert back['v'] == 2 and (back['t'] == 2).all()

    with conn.primary(name) as s:  # a manifest whose own checksum fails, committed as 4
        bad = bytearray(s.checkpoints()[0].data)
        bad[-2] ^= 0xff
        s.commit(bad)
    assert nt.load(conn, name)['v'] == 2

    corrupt_data(conn, f'{name}.d2')  # checkpoint 2 too: nothing whole is kept
    with pytest.raises(npmu.CorruptError, match='checksum') as e:
        nt.load(conn, name)
    assert all(f'checkpoint {s}' in str(e.value) for s in (4, 3, 2))


def test_other_format_and_version(conn, name):
    """A stream of something else is not loaded as a checkpoint; a newer format raises
    VersionError, whatever older checkpoint is kept."""
    conn.create_stream(name, 4096)
    with conn.primary(name) as s:
        s.commit(b'not a checkpoint at all')
    with pytest.raises(npmu.CorruptError, match='not an npmu.torch checkpoint'):
        nt.load(conn, name)
    nt.save({'v': 1}, conn, name)
    with conn.primary(name) as s:
        body = b'{}'
        s.commit(struct.pack('<8sIIQ', nt.MAGIC, nt.FORMAT + 1, zlib.crc32(body), 2) + body)
    with pytest.raises(npmu.VersionError, match='format 2'):
        nt.load(conn, name)


def test_save_killed_mid_way_loses_nothing_committed(conn, unit, name):
    """A process saving 12 MiB checkpoints back to back is SIGKILLed; what loads is one
    whole checkpoint (every tensor of one version), at least the last one acknowledged."""
    p = child('torch_saver.py', unit, name)
    acked = 0
    while acked < 5:
        acked = int(p.stdout.readline())
    time.sleep(0.15)
    kill(p)
    acked = max([acked] + [int(x) for x in p.stdout.read().split()])
    back = nt.load(conn, name)
    v = back['v']
    assert v >= acked, f'acknowledged {acked}, loaded {v}'
    for t in back['tensors'].values():
        assert (t == v).all(), 'a torn checkpoint was loaded'
    nt.save({'v': v + 1}, conn, name, wait=5)  # the next saver takes the lease over
    assert nt.load(conn, name)['v'] == v + 1


def test_checkpointer_resumes(conn, name):
    """A Checkpointer saves every N steps; a second one resumes from the last step saved
    (after the first let go); a live holder keeps others out."""
    m, opt = model_and_optimizer()
    with nt.Checkpointer(conn, name, every=3) as ck:
        assert ck.resume() is None
        saved = [s for s in range(10) if ck.step(s, lambda: {'model': m.state_dict(), 's': s})]
        assert saved == [0, 3, 6, 9] and len(ck.save_seconds) == 4
        with pytest.raises(npmu.LeaseError):
            nt.Checkpointer(conn, name, wait=0.3).resume()
        with pytest.raises(RuntimeError, match='already'):
            ck.resume()
    with nt.Checkpointer(conn, name) as ck2:
        step, state = ck2.resume()
        assert step == 9 and state['s'] == 9
        assert_same(state['model'], m.state_dict())
        ck2.save(10, {'s': 10})
    assert nt.load(conn, name) == {'s': 10}


def test_bad_input(conn, name):
    """Non-CPU, sparse and unsupported objects, bad names and arguments: clear exceptions,
    and nothing is committed."""
    cases = [
        ({'w': torch.empty(3, device='meta')}, ValueError, 'CPU tensors'),
        ({'w': torch.eye(3).to_sparse()}, TypeError, 'dense'),
        ({'w': {1, 2}}, TypeError, 'cannot save a set'),
        ({'w': object()}, TypeError, 'cannot save'),
        ({'w': b'bytes'}, TypeError, 'cannot save a bytes'),
        ({'w': torch.quantize_per_tensor(torch.ones(2), 0.1, 0, torch.quint8)}, TypeError,
         'quantized'),
    ]
    for obj, exc, text in cases:
        with pytest.raises(exc, match=text):
            nt.save(obj, conn, name)
    with pytest.raises(npmu.NotFoundError, match='no checkpoint'):
        nt.load(conn, name)  # the stream exists, nothing was committed
    with pytest.raises(ValueError, match='bytes'):
        nt.save({}, conn, 'x' * 60)
    with pytest.raises(TypeError):
        nt.load(conn, 5)
    with pytest.raises(ValueError, match='keep'):
        nt.save({}, conn, name, keep=1)
    with pytest.raises(npmu.NotFoundError):
        nt.load(conn, name + 'missing')
    with pytest.raises(ValueError, match='every'):
        nt.Checkpointer(conn, name, every=0)
    with pytest.raises(RuntimeError, match='resume'):
        nt.Checkpointer(conn, name).save(1, {})
