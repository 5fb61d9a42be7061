"""What the benchmarks share: the machine a figure came from, tables, JSON
results under bench/results/, PostgreSQL databases of their own, and process
memory read from /proc."""

import json
import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
POSTGRES = os.getenv("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")


# -- The machine ---------------------------------------------------------------------


def machine(postgres_url: str | None = None, redis_url: str | None = None) -> dict:
    """Cores, memory, CPU, Python, PostgreSQL and Redis versions, read off this machine."""
    info = {
        "cores": os.cpu_count(),
        "memory_gib": round(_meminfo("MemTotal") / 1024 / 1024, 1),
        "cpu": _cpu_model(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
    if postgres_url:
        import psycopg

        with psycopg.connect(postgres_url) as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0].split()[0]
    if redis_url:
        import redis

        info["redis"] = redis.Redis.from_url(redis_url).info("server")["redis_version"]
    return info


def machine_row(machine: dict) -> tuple[str, str]:
    return (
        "machine",
        f"{machine['cores']} cores, {machine['memory_gib']} GiB, Python {machine['python']}, "
        f"PostgreSQL {machine['postgresql']}, Redis {machine['redis']}",
    )


def _meminfo(key: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average() -> float:
    return os.getloadavg()[0]


# -- Output --------------------------------------------------------------------------


def table(title: str, rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    lines = [title, "-" * len(title)]
    lines += [f"{name.ljust(width)}  {value}" for name, value in rows]
    return "\n".join(lines)


def save(name: str, data: dict) -> Path:
    """bench/results/<name>-<UTC time>.json (git-ignored)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


# -- Databases of their own ---------------------------------------------------------


def fresh_database(name: str, server: str = POSTGRES) -> str:
    """Drop and create `name` on the server; its URL."""
    drop_database(name, server)
    _admin(server, f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def drop_database(name: str, server: str = POSTGRES) -> None:
    assert name.startswith("lp_bench"), "the bench drops only its own databases"
    _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(server: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(statement)


# -- Processes -------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def peak_rss(pid: int) -> int | None:
    """VmHWM: the process' peak resident set so far, in KiB (None once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until(check, *, timeout: float, what: str, every: float = 0.1):
    started = time.monotonic()
    while True:
        try:
            value = check()
        except Exception:  # noqa: BLE001 - not up yet
            value = None
        if value:
            return value
        if time.monotonic() - started > timeout:
            raise SystemExit(f"Gave up waiting for {what} after {timeout:.0f}s.")
        time.sleep(every)


# -- CPU time, by who used it ---------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_snapshot() -> dict[int, tuple[str, float]]:
    """pid → (command name, CPU seconds so far), for every process. PostgreSQL's
    also counts its children already ended: a backend lives one connection, often
    one task, and would otherwise go uncounted."""
    snapshot = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        ticks = fields[11:15] if name.startswith("postgres") else fields[11:13]
        snapshot[int(stat.parent.name)] = (name, sum(map(int, ticks)) / TICKS)
    return snapshot


def postgres_activity(cursor, table: str) -> dict[str, int]:
    """What PostgreSQL has done so far, to diff around a run: WAL written (the whole
    server's), checkpoints, and one table's updates (HOT: no index written) and its
    autovacuum and autoanalyze runs. The table figures lag by up to a second."""
    cursor.execute(
        "SELECT pg_current_wal_lsn() - '0/0', checkpoints_timed + checkpoints_req,"
        " n_tup_upd, n_tup_hot_upd, autovacuum_count, autoanalyze_count"
        " FROM pg_stat_bgwriter, pg_stat_user_tables WHERE relname = %s",
        [table],
    )
    names = ("wal_bytes", "checkpoints", "updates", "hot_updates", "autovacuums", "autoanalyzes")
    return dict(zip(names, map(int, cursor.fetchone()), strict=True))


def postgres_used(before: dict, after: dict) -> dict[str, int]:
    return {name: after[name] - before[name] for name in after}


def cpu_used(before: dict, after: dict, groups: dict[str, set[int]]) -> dict[str, float]:
    """CPU seconds between two snapshots: by the named groups of pids, then by command
    name (postgres, redis-server, ...); "other" is everything else on the machine."""
    used: dict[str, float] = {}
    for pid, (name, seconds) in after.items():
        delta = seconds - before.get(pid, (name, 0.0))[1]
        if delta <= 0:
            continue
        group = next((g for g, pids in groups.items() if pid in pids), None)
        if group is None:
            group = name if name.startswith(("postgres", "redis")) else "other"
            group = "postgres" if group.startswith("postgres") else group
        used[group] = used.get(group, 0.0) + delta
    return {k: round(v, 1) for k, v in sorted(used.items(), key=lambda kv: -kv[1])}
