"""npmu -- network-attached persistent memory for checkpointing, from Python.

A primary process writes its state into a remote persistent memory unit (npmud) with
one-sided RDMA writes; a backup reads it back and takes over when the primary dies. This
package is libnpmu (C) for Python: every call goes through the library, and buffers go from
and to your memory without a copy (bytes, bytearray, memoryview, numpy arrays, CPU tensors
through tensor.numpy()).

    import npmu
    with npmu.Connection("127.0.0.1:7411") as conn:        # None: $NPMU_SERVER
        conn.create_region("app.state", 1 << 20)
        with conn.open_region("app.state", write=True) as r:
            r.write(0, array)                              # placed in the unit's memory
            r.persist()                                    # flushed: survives power loss
            r.read_into(0, out)                            # straight into out's memory

Objects: Connection (regions, units, streams, striped sets, datasets), Region (write,
read_into, put, persist), Stream (a checkpoint stream's primary: commit, update; or backup:
follow, takeover, state), Dataset (one checkpoint of many processes). npmu.torch saves and
loads PyTorch state_dicts and checkpoints training loops.

Errors: every failure of the library raises an npmu.Error subclass carrying .code (the
NPMU_E_* code) and .message (the library's sentence): FencedError, LeaseError,
NotFoundError, ... Bad arguments raise TypeError or ValueError before anything is sent; a
closed object raises ValueError.

Threads: objects may be shared between threads. Every call that waits on the network runs
with the GIL released; calls through one Connection (and the objects opened through it) run
one at a time, so open a Connection per thread to transfer in parallel.

Without installing: PYTHONPATH=BUILD/python /usr/bin/python3 (BUILD: the CMake build tree).
"""
import enum as _enum

from . import _npmu
from ._npmu import (  # noqa: F401 (the public names)
    Connection, Region, Stream, Dataset, Error, strerror, set_log_level,
    RegionInfo, UnitInfo, CopyInfo, MirrorInfo, StreamInfo, Checkpoint, StripeReport,
    StripeInfo, DatasetVersion,
    InvalidArgumentError, OutOfMemoryError, NotFoundError, ExistsError, NoSpaceError,
    BadNameError, RangeError, AccessError, AccessKeyError, ProtocolError, TooBigError,
    CorruptError, VersionError, UnitIOError, FabricError, TimedOutError, UnreachableError,
    LimitError, ShrinkError, InternalError, BusyError, AuthError, NoUnitError, FencedError,
    LeaseError, LostError, ManagerError, ConfigError,
    NAME_MAX, DEFAULT_PORT, DATASET_PARTS_MAX, DATASET_NAME_MAX,
)


class Durability(_enum.IntEnum):
    """How durable a write is made (Region.persist, put; streams, sets and datasets)."""
    PLACED = _npmu.PLACED          #: in the unit's memory: survives the client's and the unit process's death
    PERSISTENT = _npmu.PERSISTENT  #: flushed to the persistence domain: survives power loss


PLACED = Durability.PLACED
PERSISTENT = Durability.PERSISTENT


class Copy(_enum.IntEnum):
    """Which copy of a mirrored region reads go to (falling back to the other)."""
    NEAREST = _npmu.COPY_NEAREST  #: the in-sync copy that answered fastest at open
    PRIMARY = _npmu.COPY_PRIMARY  #: copy 0, while in sync
    MIRROR = _npmu.COPY_MIRROR    #: copy 1, while in sync


class CopyState(_enum.IntEnum):
    """The state of one copy of a mirrored region (CopyInfo.state)."""
    IN_SYNC = _npmu.COPY_IN_SYNC
    STALE = _npmu.COPY_STALE
    RESYNCING = _npmu.COPY_RESYNCING


class StreamMode(_enum.IntEnum):
    """How a checkpoint stream keeps state (Connection.create_stream)."""
    OVERWRITE = _npmu.OVERWRITE  #: each commit replaces the state; the last `keep` stay readable
    APPEND = _npmu.APPEND        #: a base state and update records appended after it


class LeaseState(_enum.IntEnum):
    """A stream's lease as anyone may see it (StreamInfo.lease_state)."""
    NONE = _npmu.LEASE_NONE      #: no writer yet
    HELD = _npmu.LEASE_HELD      #: a primary holds it and renews it
    LAPSED = _npmu.LEASE_LAPSED  #: its primary stopped renewing it: a backup may take over


class MemberState(_enum.IntEnum):
    """A striped set's member as a reader finds it (StripeInfo.members)."""
    OK = _npmu.MEMBER_OK
    LOST = _npmu.MEMBER_LOST
    CORRUPT = _npmu.MEMBER_CORRUPT


class LogLevel(_enum.IntEnum):
    """The library's log levels (set_log_level); it logs to stderr."""
    ERROR = _npmu.LOG_ERROR
    WARN = _npmu.LOG_WARN
    INFO = _npmu.LOG_INFO
    DEBUG = _npmu.LOG_DEBUG


__all__ = [
    'Connection', 'Region', 'Stream', 'Dataset', 'Error', 'strerror', 'set_log_level',
    'Durability', 'PLACED', 'PERSISTENT', 'Copy', 'CopyState', 'StreamMode', 'LeaseState',
    'MemberState', 'LogLevel',
    'RegionInfo', 'UnitInfo', 'CopyInfo', 'MirrorInfo', 'StreamInfo', 'Checkpoint',
    'StripeReport', 'StripeInfo', 'DatasetVersion',
    'InvalidArgumentError', 'OutOfMemoryError', 'NotFoundError', 'ExistsError',
    'NoSpaceError', 'BadNameError', 'RangeError', 'AccessError', 'AccessKeyError',
    'ProtocolError', 'TooBigError', 'CorruptError', 'VersionError', 'UnitIOError',
    'FabricError', 'TimedOutError', 'UnreachableError', 'LimitError', 'ShrinkError',
    'InternalError', 'BusyError', 'AuthError', 'NoUnitError', 'FencedError', 'LeaseError',
    'LostError', 'ManagerError', 'ConfigError',
    'NAME_MAX', 'DEFAULT_PORT', 'DATASET_PARTS_MAX', 'DATASET_NAME_MAX',
]
