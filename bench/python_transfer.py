"""Transfer benchmark for the Python client: the scenarios of bench/transfer.ts (logging and
downloading many large and many small files), timed against the same floor (OpenSSL SHA-256 +
`cp -r`), so its rows can sit next to the TypeScript SDK's.

    node esbuild.mjs && PYTHONPATH=python python3 bench/python_transfer.py [--quick] [--json] [--data DIR]

`--json` prints the rows as [{name, seconds, floor, note}] (scenario names match bench/transfer.ts).
`--data DIR` uses DIR/large and DIR/small (as bench/transfer.ts generates them) instead of new data.
It always starts its own server on an empty data dir: on a server that already holds the blobs,
"log" would measure a re-log.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python", "tests"))

QUICK = "--quick" in sys.argv
DATA = sys.argv[sys.argv.index("--data") + 1] if "--data" in sys.argv else None
LARGE_FILES = 8
LARGE_SIZE = (8 if QUICK else 128) << 20
SMALL_FILES = 1_000 if QUICK else 10_000
SMALL_SIZE = 4096


def log(msg):
    sys.stderr.write("[bench] %s\n" % msg)


def generate(large, small):
    os.makedirs(large)
    os.makedirs(small)
    chunk = bytearray(os.urandom(8 << 20))
    for f in range(LARGE_FILES):
        with open(os.path.join(large, "shard-%d.bin" % f), "wb") as out:
            for c in range(LARGE_SIZE // len(chunk)):
                chunk[0:8] = f.to_bytes(4, "little") + c.to_bytes(4, "little")
                out.write(chunk)
    data = os.urandom(SMALL_FILES * SMALL_SIZE)
    for i in range(SMALL_FILES):
        d = os.path.join(small, "d%d" % (i // 1000))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "f%d.bin" % i), "wb") as out:
            out.write(data[i * SMALL_SIZE:(i + 1) * SMALL_SIZE])


def floor(src, dest, base):
    files = [os.path.join(dp, f) for dp, _, fs in os.walk(src) for f in fs]
    listing = os.path.join(base, "filelist.txt")
    with open(listing, "w") as f:
        f.write("\0".join(files))
    settle()
    t0 = time.perf_counter()
    subprocess.run("xargs -0 -n 2000 openssl dgst -sha256 < %s > /dev/null" % listing, shell=True, check=True)
    subprocess.run(["cp", "-r", src, dest], check=True)
    return time.perf_counter() - t0


def settle():
    """Flushes dirty pages first so one step's writeback is not billed to the next (as bench/transfer.ts)."""
    subprocess.run(["sync"], check=False)


def timed(fn):
    settle()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def fmt(s):
    return "—" if s is None else ("%.2f s" % s if s < 10 else "%.1f s" % s)


def main():
    from support import ServerProcess

    base = tempfile.mkdtemp(prefix="amphora-pybench-", dir=os.environ.get("BENCH_DIR"))
    large, small = os.path.join(DATA or base, "large"), os.path.join(DATA or base, "small")
    large_label = "%d × %d MiB" % (LARGE_FILES, LARGE_SIZE >> 20)
    small_label = "{:,} × 4 KiB".format(SMALL_FILES)
    if DATA:
        log("using %s and %s in %s" % (large_label, small_label, DATA))
    else:
        log("generating %s and %s in %s" % (large_label, small_label, base))
        generate(large, small)
    server = ServerProcess(os.path.join(base, "server-data"))
    rows = []
    try:
        os.environ.update(AMPHORA_BASE_URL=server.url, AMPHORA_API_KEY=server.api_key,
                          AMPHORA_CACHE_DIR=os.path.join(base, "cache-producer"))
        import amphora

        def log_dir(name, folder):
            with amphora.init(project="bench", job_type="bench", reinit=True) as run:
                a = amphora.Artifact(name, type="dataset")
                a.add_dir(folder)
                run.log_artifact(a)
                return a

        t_large, _ = timed(lambda: log_dir("large", large))
        f_large = floor(large, os.path.join(base, "copy-large"), base)
        t_small, _ = timed(lambda: log_dir("small", small))
        f_small = floor(small, os.path.join(base, "copy-small"), base)
        t_relog, relogged = timed(lambda: log_dir("small", small))

        os.environ["AMPHORA_CACHE_DIR"] = os.path.join(base, "cache-consumer")
        api = amphora.Api()

        def dl(ref, root):
            a = api.artifact(ref)
            a.download(os.path.join(base, root))
            return a.last_transfer

        t_cold_large, _ = timed(lambda: dl("bench/large:latest", "dl-large-1"))
        t_cache_large, _ = timed(lambda: dl("bench/large:latest", "dl-large-2"))
        t_cold_small, _ = timed(lambda: dl("bench/small:latest", "dl-small-1"))
        t_cache_small, cache_stats = timed(lambda: dl("bench/small:latest", "dl-small-2"))
        t_again_small, again_stats = timed(lambda: dl("bench/small:latest", "dl-small-2"))
        mib = LARGE_FILES * LARGE_SIZE / 2 ** 20
        rate = lambda n, s: "{:,} files/s".format(round(n / s))  # noqa: E731
        rows = [
            ("log %s" % large_label, t_large, f_large, "%.0f MiB/s; %.2f× floor" % (mib / t_large, t_large / f_large)),
            ("log %s" % small_label, t_small, f_small, rate(SMALL_FILES, t_small)),
            ("re-log unchanged %s" % small_label, t_relog, None, "%s reused, %d bytes uploaded" % (relogged.version, relogged.last_transfer.bytes_uploaded)),
            ("download %s, cold cache" % large_label, t_cold_large, f_large, "%.0f MiB/s" % (mib / t_cold_large)),
            ("download %s, cached, new root" % large_label, t_cache_large, f_large, "verify + copy from cache"),
            ("download %s, cold cache" % small_label, t_cold_small, f_small, rate(SMALL_FILES, t_cold_small)),
            ("download %s, cached, new root" % small_label, t_cache_small, f_small, "%d from cache, %d fetched" % (cache_stats.cache_hits, cache_stats.files_downloaded)),
            ("download %s again, same root" % small_label, t_again_small, None, "%d unchanged" % again_stats.already_present),
        ]
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
    if "--json" in sys.argv:  # for bench/transfer.ts to add a Python column
        import json

        print(json.dumps([{"name": r[0], "seconds": r[1], "floor": r[2], "note": r[3]} for r in rows]))
        return
    print("\nAmphora transfer benchmark, Python client%s — %s, %d cores, Python %s\n" % (
        " (--quick)" if QUICK else "", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), os.cpu_count(), sys.version.split()[0]))
    head = ("scenario", "amphora (python)", "floor: openssl+cp", "notes")
    body = [(r[0], fmt(r[1]), fmt(r[2]), r[3]) for r in rows]
    w = [max(len(x[i]) for x in [head] + body) for i in range(4)]
    line = lambda r: " | ".join(c.ljust(w[i]) for i, c in enumerate(r))  # noqa: E731
    print(line(head))
    print("-|-".join("-" * n for n in w))
    for r in body:
        print(line(r))


if __name__ == "__main__":
    main()
