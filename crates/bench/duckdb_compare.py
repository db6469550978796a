"""DuckDB on the same rows: the `--compare` half of `auditlog-bench scale`.

Reads a JSON request on standard input:
    {"sqlite": "<file>", "duckdb": "<file>", "runs": N,
     "queries": [{"label": "...", "sql": ["SELECT ...", ...]}, ...]}
Copies the SQLite store's audit entries (the columns a count reads) into a DuckDB file once,
ordered by project and time (as a columnar engine would keep an audit log), then runs each
query's statements `runs` times after one warm-up and prints, per query, the median and p95 in
milliseconds of running all its statements, as JSON on standard output.
"""

import csv
import json
import os
import sqlite3
import statistics
import sys
import time

import duckdb

COLUMNS = (
    "project_id BIGINT, ts BIGINT, actor_key VARCHAR, method VARCHAR, source VARCHAR, "
    "action VARCHAR, status_code INTEGER, resource_type VARCHAR, resource_key VARCHAR, "
    "search_text VARCHAR"
)
NAMES = (
    "project_id, ts, actor_key, method, source, action, status_code, resource_type, "
    "resource_key, search_text"
)


def load(sqlite_path, duckdb_path):
    """Copies the entries into a new DuckDB file through a CSV file (no DuckDB extension is
    downloaded, and no other Python package is needed)."""
    partial = duckdb_path + ".partial"
    csv_path = duckdb_path + ".csv"
    for stale in (partial, csv_path):
        if os.path.exists(stale):
            os.remove(stale)
    started = time.time()
    source = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    with open(csv_path, "w", newline="") as out:
        writer = csv.writer(out)
        # The search text separates its parts with newlines; a unit separator keeps each row on
        # one line of the file (no term searched for holds either).
        cursor = source.execute(
            f"SELECT {NAMES.replace('search_text', 'replace(search_text, char(10), char(31))')} "
            "FROM audit_entries"
        )
        while True:
            rows = cursor.fetchmany(100_000)
            if not rows:
                break
            writer.writerows(rows)
    target = duckdb.connect(partial)
    columns = ", ".join(
        f"'{name}': '{kind}'"
        for name, kind in (column.split() for column in COLUMNS.split(", "))
    )
    target.execute(
        f"CREATE TABLE audit_entries AS SELECT * FROM read_csv('{csv_path}', header = false, "
        f"auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
        f"max_line_size = 10000000, columns = {{{columns}}}) ORDER BY project_id, ts"
    )
    target.execute("CHECKPOINT")
    target.close()
    os.remove(csv_path)
    os.rename(partial, duckdb_path)
    print(
        f"copied the entries into {duckdb_path} in {time.time() - started:.0f} s",
        file=sys.stderr,
    )


def main():
    request = json.load(sys.stdin)
    if not os.path.exists(request["duckdb"]):
        load(request["sqlite"], request["duckdb"])
    connection = duckdb.connect(request["duckdb"], read_only=True)
    results = []
    for query in request["queries"]:
        def run():
            started = time.perf_counter()
            for statement in query["sql"]:
                connection.execute(statement).fetchall()
            return (time.perf_counter() - started) * 1000.0

        run()
        times = sorted(run() for _ in range(request["runs"]))
        p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
        results.append(
            {"label": query["label"], "p50": statistics.median(times), "p95": p95}
        )
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
