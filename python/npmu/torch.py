"""npmu.torch -- PyTorch state_dicts in npmu: tensor bytes straight from tensor memory.

    import npmu, npmu.torch
    with npmu.Connection() as conn:
        npmu.torch.save({"model": model.state_dict(), "optim": opt.state_dict()}, conn, "run1")
        state = npmu.torch.load(conn, "run1")

        with npmu.torch.Checkpointer(conn, "run1", every=10, mirror=True) as ck:
            last = ck.resume()                     # None, or (step, state) last committed
            start = 0 if last is None else last[0] + 1
            for step in range(start, steps):
                ...
                ck.step(step, lambda: {"model": model.state_dict(), "optim": opt.state_dict()})

What is saved: nested dicts (OrderedDict too, with a state_dict's _metadata), lists and tuples
of tensors and plain values (None, bool, int, float, str). A tensor's bytes go from its memory
to the units (one-sided writes, no pickle, no intermediate file); the same tensor object
reached twice (tied weights) is stored once and comes back shared. Tensors must be on the CPU
(others: ValueError; move them with .cpu()); a non-contiguous one is copied with
.contiguous() first, the only copy made; sparse and quantized ones raise TypeError. Loading
allocates each tensor and reads its bytes straight into it. Nothing is unpickled: a
checkpoint cannot run code.

Layout of checkpoint NAME (format 1), and why a torn one is never loaded:
    NAME             an overwrite stream keeping K manifests (keep, 2..8; default 2)
    NAME.d0..NAME.dK-1   data regions: checkpoint s's tensor bytes are in NAME.d{s % K}
 1. Checkpoint s's tensors are written and made durable together (Region.put) before its
    manifest -- names, dtypes, shapes, offsets and a CRC-32 of every tensor, and a CRC-32 of
    itself -- is committed to the stream as checkpoint s: a save that dies before the
    commit leaves the previous checkpoint the newest.
 2. Checkpoint s's data goes to the slot of checkpoint s - K, the oldest kept, so the K - 1
    newer ones stay whole while a save runs; a save that dies mid-way costs at most that
    oldest one (its tensors then fail their checksums).
 3. Only the stream's lease holder writes data regions, and before it opens one read-write
    it revokes every earlier right to it (a mirrored region's read-write open also closes
    earlier writers'): a writer that lost the lease can write neither manifest nor data.
 4. load() takes the newest kept manifest whose own checksum and every tensor's checksum hold,
    falling back to the older ones; none whole: CorruptError saying why each failed. A
    manifest of a newer format raises VersionError, a stream holding something else
    CorruptError ("not an npmu.torch checkpoint").
"""
import json
import struct
import time
import zlib
from collections import OrderedDict

import torch

import npmu

__all__ = ['save', 'load', 'Checkpointer']

MAGIC = b'npmu.pt\0'
FORMAT = 1
HEADER = struct.Struct('<8sIIQ')  # magic, format, CRC-32 of the body, body length
ALIGN = 64                        # each tensor's offset in its data region
DEFAULT_KEEP = 2
DEFAULT_MANIFEST_SIZE = 1 << 20   # the stream's state_size: the largest manifest
SUFFIX_MAX = len('.cursor')       # the stream's own second region is NAME.cursor

# dtypes kept by name; every one of them has a byte view (tensor.view(torch.uint8))
DTYPES = {str(d).split('.')[1]: d for d in (
    torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.complex128,
    torch.complex64, torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8,
    torch.bool)}
ITEMSIZE = {n: torch.empty(0, dtype=d).element_size() for n, d in DTYPES.items()}


def _check_name(name):
    """The checkpoint's name: the stream's, leaving room for its regions' suffixes."""
    if not isinstance(name, str):
        raise TypeError(f'name must be a str, not {type(name).__name__}')
    if not name or len(name.encode()) > npmu.NAME_MAX - SUFFIX_MAX:
        raise ValueError(f'name must be 1..{npmu.NAME_MAX - SUFFIX_MAX} bytes: {name!r}')


def _byte_view(t):
    """A contiguous CPU tensor's bytes as a flat uint8 numpy array sharing its memory."""
    return t.reshape(-1).view(torch.uint8).numpy()


class _Tensors:
    """The tensors of one save, in order, each once (by identity), and their layout."""

    def __init__(self):
        self.index = {}     # id(original tensor) -> position
        self.keep = []      # the originals, so that no id is reused while saving
        self.tensors = []   # what is written (contiguous CPU, detached)
        self.entries = []   # [offset, nbytes, dtype, shape, crc]
        self.size = 0

    def add(self, t, path):
        """The position of tensor t (reached at path), added on first sight."""
        pos = self.index.get(id(t))
        if pos is not None:
            return pos
        if t.is_quantized:
            raise TypeError(f'{path}: a quantized tensor: npmu.torch saves dense tensors only '
                            '(dequantize() it first)')
        if t.layout != torch.strided:
            raise TypeError(f'{path}: a {t.layout} tensor: npmu.torch saves dense tensors '
                            'only (to_dense() it first)')
        if t.device.type != 'cpu':
            raise ValueError(f'{path}: tensor on {t.device}: npmu.torch saves CPU tensors '
                             '(move it with .cpu() first)')
        dtype = str(t.dtype).split('.')[1]
        if dtype not in DTYPES:
            raise TypeError(f'{path}: dtype {t.dtype} is not saved by npmu.torch')
        w = t.detach().resolve_conj().resolve_neg()
        if not w.is_contiguous():
            w = w.contiguous()  # the one copy: documented above
        nbytes = w.numel() * w.element_size()
        offset = (self.size + ALIGN - 1) // ALIGN * ALIGN
        self.size = offset + nbytes
        pos = len(self.tensors)
        self.index[id(t)] = pos
        self.keep.append(t)
        self.tensors.append(w)
        self.entries.append([offset, nbytes, dtype, list(w.shape), None])
        return pos

    def pieces(self):
        """(offset, byte view) of every tensor that has bytes, with its CRC-32 noted."""
        out = []
        for w, e in zip(self.tensors, self.entries):
            view = _byte_view(w) if e[1] else b''
            e[4] = zlib.crc32(view)
            if e[1]:
                out.append((e[0], view))
        return out


def _encode(x, tensors, path='obj'):
    """The JSON form of x: scalars as themselves, containers as one-key objects."""
    if x is None or type(x) in (bool, int, float, str):
        return x
    if isinstance(x, torch.Tensor):
        return {'T': tensors.add(x, path)}
    if type(x) in (dict, OrderedDict):
        items = [[_encode(k, tensors, f'{path} key'), _encode(v, tensors, f'{path}[{k!r}]')]
                 for k, v in x.items()]
        if type(x) is dict:
            return {'d': items}
        meta = getattr(x, '_metadata', None)  # a state_dict's module versions
        return {'o': items, 'm': _encode(meta, tensors, f'{path}._metadata')}
    if type(x) in (list, tuple):
        return {'l' if type(x) is list else 't':
                [_encode(v, tensors, f'{path}[{i}]') for i, v in enumerate(x)]}
    raise TypeError(f'{path}: cannot save a {type(x).__name__} (npmu.torch saves tensors, '
                    'dicts, lists, tuples, str, int, float, bool and None)')


def _decode(x, tensors):
    """The object of JSON form x, with tensors[i] for each tensor reference."""
    if not isinstance(x, dict):
        if isinstance(x, list):
            raise ValueError('a bare list in the tree')
        return x
    if len(x) == 1 and 'T' in x:
        return tensors[x['T']]
    if len(x) == 1 and 'd' in x:
        return {_decode(k, tensors): _decode(v, tensors) for k, v in x['d']}
    if len(x) == 2 and 'o' in x and 'm' in x:
        out = OrderedDict((_decode(k, tensors), _decode(v, tensors)) for k, v in x['o'])
        meta = _decode(x['m'], tensors)
        if meta is not None:
            out._metadata = meta
        return out
    if len(x) == 1 and 'l' in x:
        return [_decode(v, tensors) for v in x['l']]
    if len(x) == 1 and 't' in x:
        return tuple(_decode(v, tensors) for v in x['t'])
    raise ValueError(f'an unknown node {sorted(x)!r} in the tree')


def _manifest(seq, keep, region, label, tensors, tree):
    """Checkpoint seq's manifest: the header, then its JSON body."""
    body = json.dumps({'seq': seq, 'keep': keep, 'region': region, 'label': label,
                       'tensors': tensors.entries, 'tree': tree},
                      separators=(',', ':')).encode()
    return HEADER.pack(MAGIC, FORMAT, zlib.crc32(body), len(body)) + body


def _parse_manifest(name, data):
    """A manifest's body, checked; VersionError for a newer format, CorruptError otherwise."""
    if len(data) < HEADER.size or data[:len(MAGIC)] != MAGIC:
        raise npmu.CorruptError(f'{name!r} is not an npmu.torch checkpoint '
                                f'(its state starts {bytes(data[:8])!r})')
    _, fmt, crc, length = HEADER.unpack_from(data)
    if fmt != FORMAT:
        raise npmu.VersionError(f'{name!r}: npmu.torch checkpoint format {fmt}; this '
                                f'npmu.torch reads format {FORMAT}')
    body = bytes(data[HEADER.size:])
    if length != len(body) or zlib.crc32(body) != crc:
        raise npmu.CorruptError(f'{name!r}: the manifest fails its checksum')
    try:
        m = json.loads(body)
        ok = (isinstance(m, dict) and isinstance(m.get('seq'), int) and
              isinstance(m.get('keep'), int) and 2 <= m['keep'] <= 8 and
              isinstance(m.get('region'), str) and isinstance(m.get('tensors'), list))
    except (ValueError, RecursionError):
        ok = False
    if not ok:
        raise npmu.CorruptError(f'{name!r}: the manifest is malformed')
    return m


def _check_entry(e, region_size):
    """A tensor entry of a manifest, checked against its dtype and the region."""
    if not (isinstance(e, list) and len(e) == 5 and all(isinstance(v, int) for v in e[:2])
            and e[2] in DTYPES and isinstance(e[3], list) and isinstance(e[4], int)
            and all(isinstance(d, int) and d >= 0 for d in e[3])):
        raise ValueError('a malformed tensor entry')
    offset, nbytes, dtype, shape, _ = e
    numel = 1
    for d in shape:
        numel *= d
    if numel * ITEMSIZE[dtype] != nbytes or offset < 0 or offset + nbytes > region_size:
        raise ValueError(f'a tensor entry {e[:4]} that does not fit its region')


def _read_tensors(region, entries):
    """Every tensor of a manifest, read straight into fresh tensors and checked."""
    out = []
    size = region.size
    for i, e in enumerate(entries):
        _check_entry(e, size)
        offset, nbytes, dtype, shape, crc = e
        t = torch.empty(shape, dtype=DTYPES[dtype])
        view = _byte_view(t) if nbytes else b''
        if nbytes:
            region.read_into(offset, view)
        if zlib.crc32(view) != crc:
            raise npmu.CorruptError(f'tensor {i} ({dtype} {shape}) fails its checksum')
        out.append(t)
    return out


def _restore(name, checkpoints, open_region):
    """The newest of checkpoints (Stream.checkpoints()) that is whole: (manifest, object)."""
    why = []
    for cp in checkpoints:
        try:
            m = _parse_manifest(name, cp.data)  # (a newer format: VersionError, no fall-back)
            region = open_region(m['region'])
            tensors = _read_tensors(region, m['tensors'])
            return m, _decode(m['tree'], tensors)
        except (npmu.CorruptError, npmu.NotFoundError, npmu.AccessKeyError, npmu.RangeError,
                ValueError, TypeError, KeyError, IndexError, RecursionError) as e:
            why.append(f'checkpoint {cp.seq}: {e}')
    if not why:
        raise npmu.NotFoundError(f'{name!r}: no checkpoint committed yet')
    raise npmu.CorruptError(f'{name!r}: no whole checkpoint kept: ' + '; '.join(why))


class _Writer:
    """The lease holder of checkpoint NAME: its stream as primary and its data regions."""

    def __init__(self, conn, name, keep, mirror, wait, level, manifest_size):
        _check_name(name)
        if keep is not None and not (isinstance(keep, int) and 2 <= keep <= 8):
            raise ValueError(f'keep must be 2..8, not {keep!r}')
        npmu.Durability(level)
        self.conn, self.name, self.mirror, self.level = conn, name, mirror, level
        self.regions = {}  # slot name -> Region opened read-write, after revoking others
        try:
            conn.create_stream(name, manifest_size, npmu.StreamMode.OVERWRITE,
                               keep=keep or DEFAULT_KEEP, mirror=mirror)
        except npmu.ExistsError:
            pass
        self.stream = conn.backup(name, level=level)
        try:
            self.stream.takeover(wait)  # fences any earlier writer (LeaseError: alive)
            self.keep = self._stream_keep() or keep or DEFAULT_KEEP
        except BaseException:
            self.stream.close()
            raise

    def _stream_keep(self):
        """The K of an existing checkpoint, as its newest readable manifest says (or None)."""
        for cp in self.stream.checkpoints():
            try:
                return _parse_manifest(self.name, cp.data)['keep']
            except npmu.CorruptError:
                continue
        return None

    def region(self, slot, size=0):
        """Data region `slot`, open read-write (created, or grown, to hold size bytes; size
        0: it must exist)."""
        r = self.regions.get(slot)
        if r is None:
            if size:
                try:
                    self.conn.create_region(slot, size, mirror=self.mirror)
                except npmu.ExistsError:
                    pass
            self.conn.revoke_region(slot)  # invariant 3: earlier writers' rights die here
            r = self.regions[slot] = self.conn.open_region(slot, write=True)
        if size > r.size:
            self.conn.grow_region(slot, size)
            r.refresh()
        return r

    def save(self, obj, label):
        """Write obj as the next checkpoint: data, then its manifest (invariant 1)."""
        tensors = _Tensors()
        tree = _encode(obj, tensors)
        seq = self.stream.seq + 1
        slot = f'{self.name}.d{seq % self.keep}'
        pieces = tensors.pieces()
        region = self.region(slot, max(tensors.size, 1))
        if pieces:
            region.put(pieces, self.level)
        manifest = _manifest(seq, self.keep, slot, label, tensors, tree)
        try:
            self.stream.commit(manifest)
        except npmu.TooBigError:
            raise npmu.TooBigError(f'{self.name!r}: a manifest of {len(manifest)} bytes is '
                                   'over the stream\'s state_size: create the checkpoint '
                                   'with a larger manifest_size') from None
        return seq

    def restore(self):
        """The newest whole checkpoint through the writer's own rights: (manifest, object)."""
        return _restore(self.name, self.stream.checkpoints(), self.region)

    def close(self):
        """Close the data regions, then the stream (its lease given back)."""
        for r in self.regions.values():
            r.close()
        self.regions.clear()
        self.stream.close()


def save(obj, conn, name, *, keep=None, mirror=False, label=None, wait=5.0,
         level=npmu.PERSISTENT, manifest_size=DEFAULT_MANIFEST_SIZE):
    """Save obj (a state_dict, or nested dicts, lists and tuples of tensors and plain values)
    as the next checkpoint of NAME; returns its sequence number.

    The first save creates the stream NAME (keeping `keep` checkpoints, 2..8, default 2;
    manifests of up to manifest_size bytes; mirror=True: on two units, needs pmmd) and its
    data regions. A save takes NAME's lease for its duration, waiting up to `wait` seconds
    for another writer's to lapse (LeaseError: it is alive). label (an int, str or None) is
    kept in the manifest. level=npmu.PLACED skips the flush to the persistence domain.
    """
    w = _Writer(conn, name, keep, mirror, wait, level, manifest_size)
    try:
        return w.save(obj, label)
    finally:
        w.close()


def load(conn, name, *, copy=None):
    """The newest whole checkpoint of NAME (invariant 4 above): its object, with new CPU
    tensors. NotFoundError when nothing was saved, CorruptError when no kept checkpoint is
    whole (the message says why each failed), VersionError for a newer format."""
    _check_name(name)
    opened = []

    def open_region(slot):
        opened.append(conn.open_region(slot, copy=copy))
        return opened[-1]

    try:
        with conn.backup(name, observe=True, copy=copy) as s:
            checkpoints = s.checkpoints()
        return _restore(name, checkpoints, open_region)[1]
    finally:
        for r in opened:
            r.close()


class Checkpointer:
    """Checkpoints of a training loop into NAME, every `every` steps; resume() after a crash.

        with npmu.torch.Checkpointer(conn, "run1", every=1, mirror=True) as ck:
            last = ck.resume()           # takes NAME over; None or (step, state)
            ...
            ck.step(step, state)         # state: an object or a callable returning it

    resume() makes this process NAME's writer, waiting up to `wait` seconds for a writer
    that died to lose its lease (a live one raises LeaseError: it keeps renewing), and
    fencing it; it returns the last committed step and its state. step() saves when step
    is a multiple of `every` and returns whether it did; save_seconds lists each save's
    duration. Other arguments: save(). The library renews the lease from its own thread,
    so a long step in Python does not lose it.
    """

    def __init__(self, conn, name, *, every=1, keep=None, mirror=False, wait=30.0,
                 level=npmu.PERSISTENT, manifest_size=DEFAULT_MANIFEST_SIZE):
        _check_name(name)
        if not isinstance(every, int) or every < 1:
            raise ValueError(f'every must be an int >= 1, not {every!r}')
        self.conn, self.name, self.every = conn, name, every
        self._args = (keep, mirror, wait, level, manifest_size)
        self._writer = None
        self.save_seconds = []

    def resume(self):
        """Take NAME over and return (step, state) of its last committed checkpoint, or
        None when it has none."""
        if self._writer is not None:
            raise RuntimeError(f'Checkpointer {self.name!r}: resume() was called already')
        self._writer = _Writer(self.conn, self.name, *self._args)
        try:
            m, obj = self._writer.restore()
        except npmu.NotFoundError:
            return None
        return m['label'], obj

    def save(self, step, state):
        """Checkpoint state (an object, or a callable returning it) as step's; its seq."""
        if self._writer is None:
            raise RuntimeError(f'Checkpointer {self.name!r}: call resume() first (it takes '
                               'the checkpoint over and returns what to resume from)')
        if not isinstance(step, int) or step < 0:
            raise ValueError(f'step must be an int >= 0, not {step!r}')
        t0 = time.perf_counter()
        seq = self._writer.save(state() if callable(state) else state, step)
        self.save_seconds.append(time.perf_counter() - t0)
        return seq

    def step(self, step, state):
        """Save state as step's when step is a multiple of `every`; whether it did."""
        if step % self.every:
            return False
        self.save(step, state)
        return True

    def close(self):
        """Give the lease back and close what was opened."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self):
        """`with Checkpointer(...) as ck:`"""
        return self

    def __exit__(self, *exc):
        """Close on leaving the block."""
        self.close()
        return False
