"""test_streams.py -- checkpoint streams from Python: commits and follows, the state seen
without a copy, append updates, kept checkpoints, and a mirrored stream taken over after
SIGKILL of a Python primary with no committed step lost."""
import time

import numpy as np
import pytest

import npmu
from conftest import child, kill


def test_overwrite_commit_follow_and_zero_copy_state(conn, name):
    """A backup follows the primary's commits; its state is a read-only view of the
    library's copy (no copy), which blocks calls that would move it until released."""
    conn.create_stream(name, 1 << 16, keep=3)
    with conn.primary(name) as p, conn.backup(name) as b:
        assert p.role == 'primary' and b.role == 'backup'
        for i in range(1, 6):
            p.commit(np.full(1000, i, dtype=np.int32))
        assert p.seq == 5
        assert b.follow() == 1 and b.seq == 5  # overwrite: the newest at once
        a1 = np.frombuffer(b.state, dtype=np.int32)
        a2 = np.frombuffer(b.state, dtype=np.int32)
        assert (a1 == 5).all() and a1.size == 1000
        assert a1.__array_interface__['data'][0] == a2.__array_interface__['data'][0]
        assert not a1.flags.writeable
        with pytest.raises(BufferError, match='view of the state'):
            b.follow()
        with pytest.raises(BufferError):
            b.close()
        del a1, a2
        p.commit(b'six')
        assert b.follow() == 1 and bytes(b.state) == b'six'
        cps = b.checkpoints()
        assert [c.seq for c in cps] == [6, 5, 4] and cps[0].data == b'six'
        info = p.stat()
        assert info.seq == 6 and info.lease_state == npmu.LeaseState.HELD
        assert info.mode == npmu.StreamMode.OVERWRITE
        with pytest.raises(npmu.TooBigError):
            p.commit(bytes((1 << 16) + 1))
        with pytest.raises(npmu.AccessError):
            b.commit(b'x')  # a backup does not commit


def test_append_updates(conn, name):
    """An append stream's updates land in the backup's state at their offsets."""
    conn.create_stream(name, 4096, npmu.StreamMode.APPEND)
    with conn.primary(name) as p, conn.backup(name) as b:
        p.commit(bytes(4096))
        p.update(10, b'abc')
        p.update(4090, np.frombuffer(b'xyz123', dtype=np.uint8))
        assert b.follow() >= 2
        st = bytes(b.state)
        assert st[10:13] == b'abc' and st[4090:] == b'xyz123'
        with pytest.raises(npmu.TooBigError):
            p.update(4095, b'ab')
        with pytest.raises(ValueError, match='>= 0'):
            p.update(-1, b'a')


def test_stream_bad_input(conn, name):
    """Bad stream arguments raise before anything is created or taken."""
    with pytest.raises(ValueError, match='mode'):
        conn.create_stream(name, 4096, 7)
    with pytest.raises(ValueError, match='keep'):
        conn.create_stream(name, 4096, keep=9)
    with pytest.raises(ValueError, match='state_size'):
        conn.create_stream(name, 0)
    with pytest.raises(npmu.NotFoundError):
        conn.primary(name)
    with pytest.raises(TypeError):
        conn.primary(name, observe=True)
    conn.create_stream(name, 4096)
    with conn.backup(name, observe=True) as o:
        with pytest.raises(ValueError, match='only a backup'):
            o.takeover()
        with pytest.raises(ValueError, match='wait'):
            conn.backup(name).takeover(wait=-1)


def test_takeover_after_sigkill_of_a_python_primary(mconn, pmmd, name):
    """A Python primary committing into a mirrored stream is SIGKILLed mid-run; the backup
    takes over with every step the primary had been told was committed, and commits on."""
    mconn.create_stream(name, 1 << 17, mirror=True)
    p = child('stream_primary.py', pmmd, name)
    acked = 0
    with mconn.backup(name) as b:
        deadline = time.monotonic() + 20
        while acked < 30 and time.monotonic() < deadline:
            acked = int(p.stdout.readline())
            b.follow()
        assert acked >= 30, 'the primary committed too little before the kill'
        with pytest.raises(npmu.LeaseError):
            b.takeover(wait=0)  # alive: its lease holds
        kill(p)
        killed = time.monotonic()
        b.takeover(wait=10)
        took = time.monotonic() - killed
        acked = max([acked] + [int(x) for x in p.stdout.read().split()])  # told, not yet read
        state = np.frombuffer(b.state, dtype=np.uint64)
        step = int(state[0])
        assert (state == step).all()  # one whole commit, not a torn mix
        assert step >= acked, f'committed steps lost: acked {acked}, resumed at {step}'
        assert b.seq == step and b.role == 'primary'
        del state
        b.commit(np.full(1 << 14, step + 1, dtype=np.uint64))
    with mconn.backup(name, observe=True) as o:
        o.follow()
        assert o.seq == step + 1
        assert o.stat().lease_state != npmu.LeaseState.HELD
    assert took < 5, f'takeover took {took:.2f} s'
    m = mconn.mirror_stat(name)
    assert len(m.copies) == 2 and all(c.state == npmu.CopyState.IN_SYNC for c in m.copies)
