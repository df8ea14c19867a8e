"""test_sets.py -- striped sets and datasets from Python on two units under pmmd: put from
any buffer, restore into bytes or into a buffer of ours, versions, pins, bad input."""
import numpy as np
import pytest

import npmu


def test_striped_set_put_get_read(mconn, name):
    """Two versions of a mirrored set restore exactly, newest or by number, into new bytes
    or straight into an array; a buffer too small restores nothing."""
    a = np.random.default_rng(2).integers(0, 256, 3 << 20, dtype=np.uint8)
    v1 = mconn.stripe_put(name, a, n=2, mirror=True, seg_size=1 << 20)
    v2 = mconn.stripe_put(name, b'second', level=npmu.PLACED)
    assert (v1, v2) == (1, 2)
    data, rep = mconn.stripe_get(name)
    assert data == b'second' and rep.version == 2 and rep.lost == 0
    back = np.zeros_like(a)
    rep = mconn.stripe_read(name, back, version=1)
    assert rep.length == a.nbytes and np.array_equal(back, a)
    with pytest.raises(ValueError, match='needs 3145728'):
        mconn.stripe_read(name, bytearray(10), version=1)
    with pytest.raises(TypeError, match='read-only'):
        mconn.stripe_read(name, b'x' * 10)
    info = mconn.stripe_stat(name)
    assert (info.k, info.m, info.n) == (1, 1, 2) and info.versions[0][0] == 2
    assert all(m[2] == npmu.MemberState.OK for m in info.members)
    assert mconn.stripe_rebuild(name).lost == 0
    mconn.stripe_delete(name)
    with pytest.raises(npmu.NotFoundError):
        mconn.stripe_stat(name)


def test_staged_put_protect_wait(mconn, name):
    """A staged put returns staged; a restore reads it from staging and says so; the encoder's
    work (stripe_protect) protects it; stripe_wait and stripe_versions see each state; options
    that go with staged=True alone are refused."""
    a = np.random.default_rng(5).integers(0, 256, 2 << 20, dtype=np.uint8)
    v = mconn.stripe_put(name, a, n=2, mirror=True, staged=True, stage_slots=1)
    assert v == 1
    states = {x['version']: x['state'] for x in mconn.stripe_versions(name)}
    assert states == {1: 'staged'}
    back = np.zeros_like(a)
    rep = mconn.stripe_read(name, back)
    assert rep.staged and rep.version == 1 and np.array_equal(back, a)
    with pytest.raises(npmu.TimedOutError):
        mconn.stripe_wait(name, 1, timeout_ms=50)
    assert mconn.stripe_protect(name) == 1
    assert mconn.stripe_wait(name, 1, timeout_ms=0) == 1
    data, rep = mconn.stripe_get(name)
    assert not rep.staged and data == a.tobytes()
    # the only slot now free again: a second version staged, then a third waits, or goes sync
    assert mconn.stripe_put(name, b'two', staged=True) == 2
    with pytest.raises(npmu.TimedOutError):
        mconn.stripe_put(name, b'three', staged=True, wait_ms=50)
    assert mconn.stripe_put(name, b'three', staged=True, sync_when_full=True) == 3
    states = {x['version']: x['state'] for x in mconn.stripe_versions(name)}
    assert states[3] == 'protected' and states[2] == 'superseded'
    with pytest.raises(ValueError, match='go with staged=True'):
        mconn.stripe_put(name, b'x', stage_slots=2)
    mconn.stripe_delete(name)
    with pytest.raises(npmu.NotFoundError):
        mconn.stripe_versions(name)


def test_dataset_staged_commit_read_protect(mconn, name):
    """A dataset's staged parts: committed at once and read from their staging copies (state
    'staged'), protected by an encoder's work (stripe_protect of each part's set), waited for;
    a part put again over a version it holds goes synchronously; a handle that only reads is
    refused."""
    parts = [np.full(30000, p + 7, dtype=np.int32) for p in range(2)]
    with mconn.open_dataset(name, parts=2, n=2, mirror=True, keep=2) as ds:
        ds.stage(slots=2)
        for p in range(2):
            ds.put(1, p, parts[p])
        ds.commit(1, 10)
        assert ds.state(1) == 'staged'
        with pytest.raises(npmu.TimedOutError):
            ds.wait(1, timeout_ms=50)
        back = np.zeros(100, dtype=np.int32)
        ds.read_into(1, 1, 400, back)  # from part 1's staging copy
        assert (back == 8).all()
        for p in range(2):
            assert mconn.stripe_protect(f'{name}.p{p}') == 1
        ds.wait(1, timeout_ms=0)
        assert ds.state(1) == 'protected'
        ds.read_into(1, 0, 0, back)  # from the part's set now
        assert (back == 7).all()
        # part 0 of version 2 staged, then put again (a restarted job): synchronously
        ds.put(2, 0, parts[1])
        assert mconn.stripe_protect(f'{name}.p0') == 1
        ds.put(2, 0, parts[0])
        ds.put(2, 1, parts[1])
        ds.commit(2, 20)
        ds.read_into(2, 0, 0, back)
        assert (back == 7).all()
        assert ds.state(2) == 'staged'  # part 1 still waits
        assert mconn.stripe_protect(f'{name}.p1') == 1
        assert ds.state(2) == 'protected'
    with mconn.open_dataset(name) as reader:
        with pytest.raises(npmu.InvalidArgumentError):
            reader.stage()
        assert reader.latest().version == 2
    mconn.delete_dataset(name)


def test_dataset_put_commit_read_pin(mconn, name):
    """A dataset of two parts: a version is seen only once committed; parts read back by
    range; pins and versions; bad parts and ranges raise."""
    with mconn.open_dataset(name, parts=2, n=2, mirror=True, keep=2) as ds:
        assert ds.latest() is None
        parts = [np.full(10000, p + 1, dtype=np.int16) for p in range(2)]
        for p in range(2):
            ds.put(1, p, parts[p])
        with pytest.raises(npmu.NotFoundError):
            ds.part_size(1, 0)  # not complete yet
        ds.commit(1, 100)
        latest = ds.latest()
        assert (latest.version, latest.label, latest.parts) == (1, 100, 2)
        assert ds.part_size(1, 1) == parts[1].nbytes
        back = np.zeros(100, dtype=np.int16)
        ds.read_into(1, 1, 200, back)
        assert (back == 2).all()
        ds.pin(1)
        for v in (2, 3):
            for p in range(2):
                ds.put(v, p, parts[p])
            ds.commit(v, 100 * v)
        assert [x.version for x in ds.versions()][:2] == [3, 2]
        assert any(x.version == 1 and x.pinned for x in ds.versions())
        ds.pin(1, pinned=False)
        with pytest.raises(npmu.RangeError):
            ds.read_into(3, 0, 19990, bytearray(100))
        with pytest.raises(ValueError, match='part must be below'):
            ds.put(4, 5000, b'x')
        with pytest.raises(npmu.InvalidArgumentError):
            ds.put(2, 0, b'x')  # versions only grow
    assert ds.closed
    with pytest.raises(ValueError, match='closed'):
        ds.latest()
    with mconn.open_dataset(name) as reader:  # parts=0: reading an existing one
        assert reader.latest().label == 300
    mconn.delete_dataset(name)
    with pytest.raises(ValueError, match='parts'):
        mconn.open_dataset(name, parts=5000)
