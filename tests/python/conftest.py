"""conftest.py -- the units the Python suite runs against: real npmud and pmmd processes on
loopback, on ports the kernel picks (--listen 127.0.0.1:0, --addr-file), in a temporary
directory; each stopped by its pid at the end. Needs NPMU_BUILD (the build tree: npmud, pmmd,
npmu) and the package on PYTHONPATH (BUILD/python), as tests/CMakeLists.txt runs it."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

BUILD = os.environ.get('NPMU_BUILD', '')
HERE = os.path.dirname(os.path.abspath(__file__))


class Daemons:
    """The processes started for the session, stopped by pid (SIGKILL) at the end."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='npmu-python-')
        self.procs = []

    def start(self, name, argv):
        """Start argv (writing its address to DIR/name.addr); its address once it serves."""
        addr_file = os.path.join(self.dir, name + '.addr')
        log = open(os.path.join(self.dir, name + '.log'), 'w')
        p = subprocess.Popen(argv + ['--listen', '127.0.0.1:0', '--addr-file', addr_file],
                             stdout=log, stderr=log)
        log.close()
        self.procs.append(p)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.path.exists(addr_file) and os.path.getsize(addr_file):
                return open(addr_file).read().strip()
            if p.poll() is not None:
                break
            time.sleep(0.01)
        raise RuntimeError(f'{name} did not start: ' + open(log.name).read())

    def stop(self):
        """SIGKILL and reap every process started, then remove the directory."""
        for p in self.procs:
            p.kill()
            p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope='session')
def daemons():
    """The session's processes and their directory."""
    if not BUILD or not os.path.exists(os.path.join(BUILD, 'npmud')):
        pytest.fail('NPMU_BUILD must name a build tree with npmud and pmmd')
    d = Daemons()
    yield d
    d.stop()


@pytest.fixture(scope='session')
def unit(daemons):
    """One npmud with its embedded manager (a whole system), its 'host:port'."""
    pool = os.path.join(daemons.dir, 'unit.pool')
    return daemons.start('unit', [os.path.join(BUILD, 'npmud'), '--pool', pool, '--size', '640M',
                                  '--spin-us', '0'])


@pytest.fixture(scope='session')
def pmmd(daemons):
    """Two units (each its own fault domain) under a pmmd: mirrored regions and streams."""
    key = os.path.join(daemons.dir, 'cluster.key')
    subprocess.run([os.path.join(BUILD, 'npmu'), 'keygen', key], check=True,
                   stdout=subprocess.DEVNULL)
    units = []
    for i in (1, 2):
        pool = os.path.join(daemons.dir, f'u{i}.pool')
        units += ['--unit', daemons.start(f'u{i}', [
            os.path.join(BUILD, 'npmud'), '--pool', pool, '--size', '128M', '--no-manager',
            '--cluster-key', key, '--spin-us', '0'])]
    return daemons.start('pmmd', [os.path.join(BUILD, 'pmmd'), '--cluster-key', key,
                                  '--unit-timeout', '5000'] + units)


@pytest.fixture
def name():
    """A region or stream name no other test uses."""
    return 't' + uuid.uuid4().hex[:12]


@pytest.fixture
def conn(unit):
    """A connection to the single unit, closed after the test."""
    import npmu
    with npmu.Connection(unit) as c:
        yield c


@pytest.fixture
def mconn(pmmd):
    """A connection to the pmmd of two units, closed after the test."""
    import npmu
    with npmu.Connection(pmmd) as c:
        yield c


def child(script, *args, **kw):
    """A Python process running tests/python/SCRIPT with args, its stdout a pipe."""
    return subprocess.Popen([sys.executable, os.path.join(HERE, script)] + [str(a) for a in args],
                            stdout=subprocess.PIPE, text=True, **kw)


def kill(p):
    """SIGKILL child p and reap it."""
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
