#!/usr/bin/env python3
"""check-layers.py -- fail on a dependency that runs the wrong way.

Reads BUILD/compile_commands.json for the sources that are built and their objects, and finds
two kinds of dependency: a source calling a function or using data that another file defines
(from `nm` of the objects), and a file including another's header (`#include "x.h"`). Then:
  - a dependency between folders must be one that LAYERS allows (docs/architecture.md);
  - no two files may depend on each other, directly or round a circle.
Prints every offending edge with the files and symbols behind it; exits 1 if there is one.
Usage: scripts/check-layers.py BUILD [SOURCE_ROOT]
"""
import collections
import json
import os
import re
import subprocess
import sys

# Which folders each folder may use (below it). tools/ and src/lib/ use the public API header
# include/npmu.h, which belongs to no folder here.
LAYERS = {
    'src/common': set(),
    'src/proto': {'src/common'},
    'src/fabric': {'src/common', 'src/proto'},
    'src/rpc': {'src/common', 'src/proto', 'src/fabric'},
    'src/manager': {'src/common', 'src/proto', 'src/fabric', 'src/rpc'},
    'src/unit': {'src/common', 'src/proto', 'src/fabric', 'src/rpc', 'src/manager'},
    'src/pmmd': {'src/common', 'src/proto', 'src/fabric', 'src/rpc', 'src/manager'},
    'src/lib': {'src/common', 'src/proto', 'src/fabric', 'src/rpc'},
    'src/encoder': {'src/common', 'src/proto', 'src/lib'},  # libnpmu's public API
    'tools': {'src/common', 'src/proto', 'src/lib'},
    'python': set(),  # the Python package: libnpmu's public API only (PUBLIC_ONLY)
}
# Folders that may use the project's code only through the public API: a symbol declared in
# include/npmu.h, wherever it is defined, and no header of the project's folders.
PUBLIC_ONLY = {'python'}


def public_api(root):
    """The names include/npmu.h declares for export (NPMU_API)."""
    with open(os.path.join(root, 'include', 'npmu.h')) as f:
        return set(re.findall(r'^NPMU_API\s[^;(]*?\b(\w+)\s*\(', f.read(), re.M))


def folder(path):
    """The layer a source path belongs to, or None (tests, bench, examples)."""
    for f in sorted(LAYERS, key=len, reverse=True):
        if path.startswith(f + '/'):
            return f
    return None


def sccs(nodes, edges):
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index, low, onstack, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        onstack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    onstack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    advanced = True
                    break
                if w in onstack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    onstack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ('-h', '--help'):
        print(__doc__.strip())
        return 0 if len(sys.argv) >= 2 else 2
    build = os.path.abspath(sys.argv[1])
    root = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(build, '..'))
    with open(os.path.join(build, 'compile_commands.json')) as f:
        commands = json.load(f)
    objects = collections.defaultdict(set)  # source -> its objects (a source may build twice)
    for c in commands:
        src = os.path.relpath(os.path.realpath(c['file']), root)
        obj = c.get('output') or re.search(r'-o (\S+)', c['command']).group(1)
        objects[src].add(os.path.join(c['directory'], obj))
    sources = {s for s in objects if folder(s)}

    defined, used = {}, collections.defaultdict(set)
    for s in sources:
        for o in objects[s]:
            if not os.path.exists(o):
                continue
            for line in subprocess.run(['nm', o], capture_output=True, text=True).stdout.splitlines():
                p = line.split()
                if len(p) == 3 and p[1] in 'TDBRC':
                    defined.setdefault(p[2], s)
                elif len(p) == 2 and p[0] == 'U':
                    used[s].add(p[1])
    # the headers under src/ and tools/, by name (names are unique: see below)
    headers = {}
    for top in ('src', 'tools'):
        for d, _, files in os.walk(os.path.join(root, top)):
            for h in files:
                if h.endswith('.h'):
                    rel = os.path.relpath(os.path.join(d, h), root)
                    if h in headers:
                        print(f'check-layers: two headers named {h}: {headers[h]}, {rel}')
                        return 1
                    headers[h] = rel
    files = set(sources) | set(headers.values())
    edges = collections.defaultdict(set)
    why = collections.defaultdict(set)
    for s in sources:
        for u in used[s]:
            t = defined.get(u)
            if t and t != s:
                edges[s].add(t)
                why[(s, t)].add(u)
    for f in files:
        with open(os.path.join(root, f), errors='replace') as fh:
            for m in re.finditer(r'^\s*#\s*include\s+"([^"]+)"', fh.read(), re.M):
                t = headers.get(os.path.basename(m.group(1)))
                if t and t != f:
                    edges[f].add(t)
                    why[(f, t)].add('#include')
    bad = 0
    api = public_api(root)
    for f in sorted(edges):
        for t in sorted(edges[f]):
            a, b = folder(f), folder(t)
            if a in PUBLIC_ONLY and b and a != b:
                private = sorted(why[(f, t)] - api)
                if private:
                    print(f'check-layers: {a} may use only the public API (include/npmu.h): '
                          f'{f} -> {t} ({", ".join(private[:4])})')
                    bad += 1
            elif a and b and a != b and b not in LAYERS[a]:
                print(f'check-layers: {a} may not use {b}: {f} -> {t} '
                      f'({", ".join(sorted(why[(f, t)])[:4])})')
                bad += 1
    # a header and its source are one unit of code: fold x.h into x.c before looking for circles
    def unit(f):
        c = f[:-2] + '.c'
        return c if f.endswith('.h') and c in files else f
    fedges = collections.defaultdict(set)
    for f in edges:
        for t in edges[f]:
            if unit(f) != unit(t):
                fedges[unit(f)].add(unit(t))
    for comp in sccs({unit(f) for f in files}, fedges):
        print('check-layers: files that depend on each other: ' + ' <-> '.join(comp))
        for f in comp:
            for t in sorted(fedges[f] & set(comp)):
                print(f'    {f} -> {t}')
        bad += 1
    if bad:
        print(f'check-layers: {bad} problem(s); the layers are in scripts/check-layers.py and '
              'docs/architecture.md')
        return 1
    print(f'check-layers: {len(files)} files in {len(LAYERS)} layers, no dependency against '
          'the layers, no circle')
    return 0


if __name__ == '__main__':
    sys.exit(main())
