#!/usr/bin/env python3
"""long-functions.py -- list the functions in src/, tools/ and python/ longer than a limit (default 80
lines), longest first. A function may say why it is long with a comment line containing
"long:" right above it. Usage: scripts/long-functions.py [LIMIT] [ROOT]"""
import os
import re
import sys

limit = int(sys.argv[1]) if len(sys.argv) > 1 else 80
root = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), '..')
found = []
for top in ('src', 'tools', 'python'):
    for d, _, files in os.walk(os.path.join(root, top)):
        for f in files:
            if not f.endswith('.c'):
                continue
            path = os.path.join(d, f)
            lines = open(path, errors='replace').read().split('\n')
            i = 0
            while i < len(lines):
                # a definition: a line at column 0 naming a function, its body opening at column 0
                if re.match(r'^[A-Za-z_][\w \*]*\b(\w+)\(', lines[i]) and not lines[i].endswith(';'):
                    name = re.match(r'^[A-Za-z_][\w \*]*\b(\w+)\(', lines[i]).group(1)
                    j = i
                    while j < len(lines) and lines[j] != '{' and not lines[j].endswith(';'):
                        j += 1
                    if j < len(lines) and lines[j] == '{':
                        k = j + 1
                        while k < len(lines) and lines[k] != '}':
                            k += 1
                        n = k - i + 1
                        why = i > 0 and 'long:' in ''.join(lines[max(0, i - 4):i])
                        if n > limit and not why:
                            found.append((n, os.path.relpath(path, root), i + 1, name))
                        i = k
                i += 1
for n, path, line, name in sorted(found, reverse=True):
    print(f'{n:4d} {path}:{line} {name}')
sys.exit(1 if found else 0)
