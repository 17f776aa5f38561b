#!/usr/bin/env python3
"""Which tables and indexes the pages of a SQLite ledger's write-ahead log belong to.

    infra/sqlite-log-pages.py LEDGER.db [UNITS [FROM_BYTE]]

Copy the ledger's database file and its -wal together while the relay runs (or after it stopped with the -wal left in
place) and point this at the copy. Each frame of the log is one page written by a commit; the page's owner is read from
the database with the log applied (SQLite's dbstat table). UNITS (say, the requests or callbacks the run handled) turns
counts into pages per unit; FROM_BYTE skips the frames before that offset of the -wal (its size at the start of the
part to measure). For a whole run the log must not be copied back into the database meanwhile: run the relay with
SqliteCheckpointer not registered and SqliteBusyWait.WalAutoCheckpointPages = 0 (docs/performance.md, "What SQLite
writes for a request").
"""
import collections
import sqlite3
import struct
import sys

path = sys.argv[1]
units = int(sys.argv[2]) if len(sys.argv) > 2 else 1
start = int(sys.argv[3]) if len(sys.argv) > 3 else 32
with open(path + "-wal", "rb") as f:
    log = f.read()
page_size = struct.unpack(">I", log[8:12])[0]
frame_size = 24 + page_size
offset = 32 + (max(start, 32) - 32 + frame_size - 1) // frame_size * frame_size
pages, commits = [], 0
while offset + frame_size <= len(log):
    page, commit_size = struct.unpack(">II", log[offset:offset + 8])
    pages.append(page)
    commits += commit_size != 0
    offset += frame_size
database = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
owners = {page: name for name, page in database.execute("SELECT name, pageno FROM dbstat")}
print(f"{len(pages)} pages of {page_size} bytes in {commits} commits: {len(pages) / units:.2f} pages per unit")
for name, count in collections.Counter(owners.get(p, "(free or new)") for p in pages).most_common(20):
    print(f"{count:10d} {count / units:8.2f} per unit  {name}")
