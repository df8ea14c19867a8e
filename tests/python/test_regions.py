"""test_regions.py -- regions from Python: every buffer kind round trips at many sizes and
offsets, writes and reads copy nothing, bad input raises clear exceptions, errors carry the
library's code and sentence, threads share objects with the GIL released."""
import threading
import time
import tracemalloc

import numpy as np
import pytest
import torch

import npmu

SIZES = [1, 7, 4095, 4096, 4097, 65537, 1 << 20, 3 * (1 << 20) + 5]
OFFSETS = [0, 1, 4093]


def payload(kind, n, seed):
    """n random bytes as a buffer of the given kind, and the same bytes as bytes."""
    raw = np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8)
    data = raw.tobytes()
    if kind == 'bytes':
        return data, data
    if kind == 'bytearray':
        return bytearray(data), data
    if kind == 'memoryview':
        return memoryview(bytearray(data)), data
    if kind == 'numpy':
        return raw, data
    return torch.from_numpy(raw.copy()).numpy(), data  # a tensor's memory, through .numpy()


@pytest.fixture(scope='module')
def region(unit):
    """A read-write 8 MiB region shared by the round trips."""
    with npmu.Connection(unit) as c:
        c.create_region('py.roundtrip', 8 << 20)
        with c.open_region('py.roundtrip', write=True) as r:
            yield r


@pytest.mark.parametrize('kind', ['bytes', 'bytearray', 'memoryview', 'numpy', 'torch'])
def test_round_trip_every_buffer_kind(region, kind):
    """Each kind of buffer, written at odd offsets in many sizes, reads back identical into
    bytearray, numpy and tensor buffers."""
    for size in SIZES:
        for off in OFFSETS:
            buf, data = payload(kind, size, size + off)
            region.write(off, buf)
            back = bytearray(size)
            assert region.read_into(off, back) == size
            assert back == data, (kind, size, off)
            arr = np.zeros(size, dtype=np.uint8)
            region.read_into(off, arr)
            assert arr.tobytes() == data
            t = torch.zeros(size, dtype=torch.uint8)
            region.read_into(off, t.numpy())
            assert t.numpy().tobytes() == data
    region.persist()


def test_put_and_persist_levels(region):
    """put() writes every piece; persist at both levels, whole and ranged, succeeds."""
    a = np.arange(1000, dtype=np.float32)
    region.put([(0, b'head'), (4096, a), (8 << 19, bytearray(b'tail'))])
    region.put([(16, b'placed')], level=npmu.PLACED)
    assert region.read(0, 4) == b'head' and region.read(16, 6) == b'placed'
    back = np.empty_like(a)
    region.read_into(4096, back)
    assert np.array_equal(back, a)
    assert region.read(8 << 19, 4) == b'tail'
    region.persist(0, 4096, npmu.PLACED)
    region.persist(4096, level=npmu.Durability.PERSISTENT)
    assert region.size == 8 << 20


def vm_hwm():
    """This process's peak resident memory, KiB."""
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1])
    raise AssertionError('no VmHWM')


def test_zero_copy_of_a_256_mib_array(conn, name):
    """Writing a 256 MiB numpy array and reading it back into another allocates no copy:
    Python's allocations stay under 1 MiB (tracemalloc) and the process's peak resident
    memory grows by well under the array's size."""
    n = 256 << 20
    conn.create_region(name, n)
    src = np.random.default_rng(1).integers(0, 256, n, dtype=np.uint8)
    dst = np.zeros(n, dtype=np.uint8)
    dst[::4096] = 1  # every page resident before the reset
    with conn.open_region(name, write=True) as r:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # peak RSS starts again from the current RSS
        before = vm_hwm()
        tracemalloc.start()
        r.write(0, src)
        r.read_into(0, dst)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        grown = vm_hwm() - before
    assert np.array_equal(src, dst)
    assert peak < 1 << 20, f'Python allocated {peak} bytes'
    assert grown < 64 << 10, f'peak RSS grew by {grown} KiB for a 256 MiB transfer'
    conn.delete_region(name)


def test_bad_input_raises_clear_exceptions(conn, name):
    """Every bad argument gives a clear exception, and the region still works after."""
    conn.create_region(name, 4096)
    r = conn.open_region(name, write=True)
    cases = [
        (lambda: r.write(-1, b'x'), ValueError, '>= 0'),
        (lambda: r.write(4095, b'xy'), npmu.RangeError, 'outside the region'),
        (lambda: r.write(1 << 64, b'x'), ValueError, 'too large'),
        (lambda: r.write('0', b'x'), TypeError, 'must be an int'),
        (lambda: r.write(0, 42), TypeError, 'buffer protocol'),
        (lambda: r.write(0, np.zeros((8, 8))[:, ::2]), BufferError, 'contiguous'),
        (lambda: r.read_into(0, b'immutable'), TypeError, 'read-only'),
        (lambda: r.read_into(0, bytearray(4), 8), ValueError, 'too small'),
        (lambda: r.read_into(4000, bytearray(200)), npmu.RangeError, 'outside'),
        (lambda: r.read(-5, 1), ValueError, '>= 0'),
        (lambda: r.persist(level=3), ValueError, 'PLACED'),
        (lambda: r.persist(5000), npmu.RangeError, 'outside'),
        (lambda: r.put([(0, b'x', 1)]), TypeError, 'tuple'),
        (lambda: r.put(5), TypeError, 'sequence'),
        (lambda: conn.create_region(name, 4096), npmu.ExistsError, 'already exists'),
        (lambda: conn.create_region(name + 'z', 0), ValueError, '> 0'),
        (lambda: conn.create_region('bad name!', 4096), npmu.BadNameError, 'name'),
        (lambda: conn.open_region('a\0b'), ValueError, 'NUL'),
        (lambda: conn.open_region(name, copy=9), ValueError, 'copy'),
        (lambda: conn.open_region(5), TypeError, 'str'),
        (lambda: conn.grow_region(name, 1024), npmu.ShrinkError, 'grow'),
        (lambda: conn.mirror_stat(name), npmu.InvalidArgumentError, 'invalid'),
    ]
    for call, exc, text in cases:
        with pytest.raises(exc, match=text):
            call()
    ro = np.zeros(4)
    ro.setflags(write=False)
    with pytest.raises(TypeError, match='read-only'):
        r.read_into(0, ro)
    with conn.open_region(name) as reader:
        with pytest.raises(npmu.AccessError):
            reader.write(0, b'x')
    r.write(0, b'still works')
    assert r.read(0, 11) == b'still works'
    r.close()
    r.close()  # closing again does nothing
    with pytest.raises(ValueError, match='closed'):
        r.write(0, b'x')
    with pytest.raises(ValueError, match='closed'):
        r.size


def test_errors_carry_code_and_sentence(conn):
    """A library failure raises its subclass with .code and .message; every NPMU_E_* code
    has one, and the argument errors are ValueErrors too."""
    with pytest.raises(npmu.NotFoundError) as e:
        conn.open_region('no.such.region')
    assert e.value.code == -1003 and isinstance(e.value, npmu.Error)
    assert isinstance(e.value, LookupError)
    assert e.value.message == npmu.strerror(-1003) and e.value.message in str(e.value)
    assert "'no.such.region'" in str(e.value)
    codes = {cls.code for cls in vars(npmu).values()
             if isinstance(cls, type) and issubclass(cls, npmu.Error) and cls is not npmu.Error}
    assert codes == set(range(-1028, -1000))
    assert issubclass(npmu.RangeError, ValueError) and issubclass(npmu.FencedError, npmu.Error)


def test_closed_connection(unit, name):
    """Closing a connection closes what was opened through it; using either raises
    ValueError, never crashes."""
    c = npmu.Connection(unit)
    c.create_region(name, 4096)
    r = c.open_region(name, write=True)
    c.close()
    assert c.closed and r.closed
    for call in (lambda: r.write(0, b'x'), lambda: c.regions(), lambda: c.open_region(name),
                 lambda: c.create_stream(name + 's', 4096), lambda: c.stripe_stat(name)):
        with pytest.raises(ValueError, match='closed'):
            call()
    c.close()
    with npmu.Connection(unit) as c2:
        assert c2.stat_region(name).rights == 0  # the right was revoked at close
        c2.delete_region(name)


def test_grow_refresh_list_stat_revoke_delete(conn, name):
    """A region grown by name keeps its data and its open rights; revoke and delete work."""
    conn.create_region(name, 4096)
    with conn.open_region(name, write=True) as r:
        r.write(0, b'kept')
        info = conn.grow_region(name, 1 << 20)
        assert info.size == 1 << 20 and r.size == 4096
        assert r.refresh() == 1 << 20
        r.write((1 << 20) - 4, b'tail')
        assert r.read(0, 4) == b'kept'
        assert name in {i.name for i in conn.regions()}
        assert conn.stat_region(name).rights == 1
        assert conn.revoke_region(name) == 1
        with pytest.raises(npmu.Error):
            r.write(0, b'x')  # the key died at the unit
    conn.delete_region(name)
    with pytest.raises(npmu.NotFoundError):
        conn.stat_region(name)
    assert len(conn.units()) == 1 and conn.units()[0].up


def test_threads_share_a_connection(conn, name):
    """Threads writing through one region at once all land (calls queue on the
    connection's lock), and a thread waiting in takeover() leaves the GIL to the others."""
    conn.create_region(name, 1 << 20)
    r = conn.open_region(name, write=True)

    def writer(i):
        for k in range(50):
            r.write(i * 65536 + k * 64, np.full(64, i * 50 + k, dtype=np.uint8))
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    back = np.empty(1 << 20, dtype=np.uint8)
    r.read_into(0, back)
    for i in range(4):
        for k in range(50):
            assert (back[i * 65536 + k * 64:][:64] == i * 50 + k).all()
    r.close()

    conn.create_stream(name + 's', 4096)
    with conn.primary(name + 's'):
        with conn.backup(name + 's') as b:
            ticks = []
            stop = threading.Event()

            def ticker():
                while not stop.is_set():
                    ticks.append(time.monotonic())
                    time.sleep(0.005)
            t = threading.Thread(target=ticker)
            t.start()
            with pytest.raises(npmu.LeaseError):
                b.takeover(wait=0.5)  # the primary is alive: its lease holds
            stop.set()
            t.join()
    # held through the wait, the GIL would let the ticker run only between the 100 ms slices
    assert len(ticks) > 20, f'the other thread ran {len(ticks)} times in 0.5 s'
