#!/usr/bin/env bash
# Whole-process render benchmark: `cloudify render` (release build) against Pygments'
# ImageFormatter (`pygmentize -f png`) and, when installed, silicon, on a 10-, 100- and
# 1000-line Rust file and a 319-line diff (inputs: crates/cloudify-render/benches/data,
# the same files as shared/rendering/RENDERING.md). Prints wall time (median), peak RSS
# (median of /usr/bin/time -v runs), output size and the ratios, as a Markdown table.
#
#   scripts/bench-render.sh            # builds `cloudify` in release mode first
#   SKIP_BUILD=1 RUNS=11 scripts/bench-render.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-7}
DATA=crates/cloudify-render/benches/data
BIN=${CLOUDIFY_BIN:-target/release/cloudify}

# Tools, idempotently: GNU time from Debian, Pygments + Pillow from PyPI.
if [ ! -x /usr/bin/time ]; then
  (apt-get update -qq && apt-get install -y -qq time) >/dev/null
fi
if ! python3 -c 'import pygments, PIL' 2>/dev/null; then
  python3 -m pip install -q pygments pillow
fi
# The interpreter itself, not a pyenv/asdf shim: a shim adds ~0.5 s of bash to every run.
PYGMENTIZE="$(python3 -c 'import sys; print(sys.executable)') -m pygments"
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -p cloudify
fi
[ -x "$BIN" ] || { echo "missing $BIN (unset SKIP_BUILD)" >&2; exit 1; }

OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
export CLOUDIFY_DATA_DIR="$OUT/data"   # keep the CLI's cache dir out of the tree; --no-cache anyway
SILICON=$(command -v silicon || true)

python3 - "$RUNS" "$OUT" "$BIN" "$DATA" "$PYGMENTIZE" "$SILICON" <<'PY'
import os, shlex, statistics, subprocess, sys, time, glob
runs, out, binary, data, pyg, silicon = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
inputs = [("s10", "s10.rs"), ("s100", "s100.rs"), ("s1000", "s1000.rs"), ("d300", "d300.diff")]

def tools(name, f):
    src = os.path.join(data, f)
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    t = {
        "cloudify": ([binary, "render", "--no-cache", "-o", d + "/", src], lambda: glob.glob(d + "/*.png")),
        "pygmentize": (shlex.split(pyg) + ["-f", "png", "-O", "style=monokai", "-o", f"{d}/pyg.png", src], lambda: [f"{d}/pyg.png"]),
    }
    if silicon:
        t["silicon"] = ([silicon, "-o", f"{d}/sil.png", src], lambda: [f"{d}/sil.png"])
    return t

def wall(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # warm-up
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)

def rss_mb(cmd):
    vals = []
    for _ in range(3):
        r = subprocess.run(["/usr/bin/time", "-v"] + cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        line = next(l for l in r.stderr.splitlines() if "Maximum resident set size" in l)
        vals.append(int(line.split(":")[1]) / 1024)
    return statistics.median(vals)

rows = []
for name, f in inputs:
    res = {}
    for tool, (cmd, outputs) in tools(name, f).items():
        for p in outputs():
            if os.path.exists(p):
                os.remove(p)
        w = wall(cmd)
        m = rss_mb(cmd)
        files = outputs()
        res[tool] = (w, m, len(files), sum(os.path.getsize(p) for p in files))
    rows.append((name, res))

anchors = ["pygmentize"] + (["silicon"] if silicon else [])
hdr = "| input | cloudify wall | cloudify peak RSS | pages, bytes |"
for a in anchors:
    hdr += f" {a} wall | {a} peak RSS | {a} bytes | speed-up | RSS ratio |"
print(f"runs per measurement: {runs} (+1 warm-up), wall = median; peak RSS = median of 3 × /usr/bin/time -v")
print(hdr)
print("|" + "---|" * (hdr.count("|") - 1))
worst = {a: (float("inf"), float("inf")) for a in anchors}
for name, res in rows:
    w, m, n, b = res["cloudify"]
    line = f"| {name} | {w*1000:.0f} ms | {m:.1f} MB | {n}, {b:,} |"
    for a in anchors:
        aw, am, _, ab = res[a]
        line += f" {aw*1000:.0f} ms | {am:.1f} MB | {ab:,} | **{aw/w:.1f}×** | {am/m:.1f}× |"
        worst[a] = (min(worst[a][0], aw / w), min(worst[a][1], am / m))
    print(line)
for a in anchors:
    print(f"worst case vs {a}: {worst[a][0]:.1f}× faster, {worst[a][1]:.1f}× less peak memory (target ≥ 5× faster, lower RSS)")
PY
