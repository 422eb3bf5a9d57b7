#!/usr/bin/env python3
"""Measure `copa patch` against an ideal pipeline of standard tools, in one run.

Usage: scripts/bench.py --copa PATH --registry HOST:PORT --report TRIVY.json
                        --work DIR --cache DIR [--runs N] LABEL=REPO:TAG ...

Called by scripts/bench, which builds the images, runs the registry and
documents the whole benchmark; read that first. This helper does, for every
LABEL=REPO:TAG (an image already pushed to the loopback registry):

  project  /usr/bin/time -v copa patch --workdir <fresh dir> -i REGISTRY/REPO:TAG
           -r REPORT -t <TAG>-patched --progress json (embedded agent): wall
           seconds, CPU seconds and "Maximum resident set size", seconds per
           step (from the arrival times of the step events); the
           PACKAGE/FROM/TO/OUTCOME table it
           prints names the packages the ideal pipeline fetches.
  ideal    indexes  one curl: InRelease + main/binary-amd64/Packages.xz of
                    bookworm, bookworm-updates, bookworm-security (hashes
                    checked against InRelease afterwards, untimed)
           debs     one curl: the .deb of every updated/added package at its TO
                    version (Filename from those indexes)
           layer    dpkg-deb --fsys-tarfile of each .deb, concatenated into one
                    tar stream -> tee (sha256sum of the raw stream) -> gzip -6
                    -> sha256sum
           copy     skopeo copy of the source image to a new tag in the same
                    repository (blobs exist; only manifests move)
           read     (extra row) every source layer curled from the registry
                    and decompressed through tar -t: the project must read the
                    whole image to know the final dpkg state, the brief's
                    ideal does not
Prints a table of medians over --runs runs, project/ideal ratios (with and
without the read row) and peak RSS per image. Never fails on a time; exits 1
when a patch or a sanity check (pushed digest, layer count) fails.
"""

import argparse
import hashlib
import json
import lzma
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True

MIRROR = os.environ.get("COPA_LIVE_MIRROR", "http://deb.debian.org/debian").rstrip("/")
SECURITY = os.environ.get("COPA_LIVE_SECURITY_MIRROR", "http://deb.debian.org/debian-security").rstrip("/")
SUITES = [("bookworm", MIRROR), ("bookworm-updates", MIRROR), ("bookworm-security", SECURITY)]
INDEX_PATH = "main/binary-amd64/Packages.xz"
MANIFEST_ACCEPT = ", ".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """A step that failed; the message says which and why."""


def run(argv, **kwargs):
    """subprocess.run with check and captured output; failures become BenchError."""
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-15:]
        raise BenchError(f"{argv[0]} exited {result.returncode}:\n  " + "\n  ".join(tail))
    return result


def timed(argv, **kwargs):
    """(seconds, CompletedProcess) of one command."""
    start = time.monotonic()
    result = run(argv, **kwargs)
    return time.monotonic() - start, result


# --- the project's run -------------------------------------------------------

def parse_copa_table(stdout):
    """[(name, from, to, outcome)], patched ref, digest from copa's stdout.

    Columns are padded to the widest cell, so the header's word positions are
    the column starts (a cell may be empty or hold spaces)."""
    lines = stdout.splitlines()
    header_at = next((i for i, line in enumerate(lines) if line.split()[:4] == ["PACKAGE", "FROM", "TO", "OUTCOME"]), None)
    if header_at is None:
        raise BenchError("copa printed no PACKAGE/FROM/TO/OUTCOME table")
    starts = [m.start() for m in re.finditer(r"\S+", lines[header_at])][:4] + [None]
    rows, ref, digest = [], None, None
    for line in lines[header_at + 1:]:
        if line.startswith("patched: "):
            ref = line.split(" ", 1)[1].strip()
        elif line.startswith("digest: "):
            digest = line.split(" ", 1)[1].strip()
        elif ref is None and line.strip():
            rows.append(tuple(line[starts[i]:starts[i + 1]].strip() for i in range(4)))
    if not digest or not digest.startswith("sha256:"):
        raise BenchError("copa printed no 'digest: sha256:...' line")
    return rows, ref, digest


def parse_time_v(path):
    """Maximum resident set size (KiB) and CPU seconds (user + system) from `/usr/bin/time -v -o`."""
    text = open(path, encoding="utf-8", errors="replace").read()
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    cpu = [float(m.group(1)) for m in re.finditer(r"(?:User|System) time \(seconds\): ([\d.]+)", text)]
    return (int(rss.group(1)) if rss else None), (sum(cpu) if cpu else None)


def run_copa(args, label, ref, out_dir):
    """One measured `copa patch`; returns a dict, or raises BenchError with copa's error.

    Progress goes to stderr as JSON lines (--progress json); each line is
    stamped with its arrival time so the step events give a per-step breakdown."""
    workdir = tempfile.mkdtemp(prefix=f"copa-{label}-", dir=args.work)
    target = ref.rsplit(":", 1)[1] + "-patched"
    stdout_path = os.path.join(out_dir, f"copa-{label}.stdout")
    stderr_path = os.path.join(out_dir, f"copa-{label}.stderr")
    time_path = os.path.join(out_dir, f"copa-{label}.time")
    argv = ["/usr/bin/time", "-v", "-o", time_path, args.copa, "patch", "--workdir", workdir,
            "-i", f"{args.registry}/{ref}", "-r", args.report, "-t", target, "--progress", "json"]
    log(f"{label}: {' '.join(argv[4:])}")
    events = []
    try:
        with open(stdout_path, "w") as out, open(stderr_path, "w") as err:
            start = time.monotonic()
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE, text=True, errors="replace")
            for line in process.stderr:
                at = time.monotonic() - start
                err.write(f"{at:8.3f} {line}")
                events.append((at, line))
            code = process.wait()
            seconds = time.monotonic() - start
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rss_kib, cpu = parse_time_v(time_path)
    stdout = open(stdout_path, encoding="utf-8", errors="replace").read()
    if code != 0:
        tail = [line.rstrip("\n") for _, line in events[-20:]]
        raise BenchError(f"copa patch of {ref} exited {code} after {seconds:.1f}s; stderr tail:\n  "
                         + "\n  ".join(tail) + f"\n  (full output: {stdout_path}, {stderr_path})")
    rows, patched, digest = parse_copa_table(stdout)
    return {"seconds": seconds, "rss_kib": rss_kib, "cpu": cpu, "rows": rows, "patched": patched,
            "digest": digest, "target": target, "steps": step_durations(events)}


def step_durations(events):
    """[(step, seconds)] from the JSON step events: started -> completed/failed/skipped,
    or from the previous step's end when no start was seen."""
    started, durations, previous_end = {}, [], 0.0
    for at, line in events:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict) or event.get("type") != "step":
            continue
        name, state = event.get("name", "?"), event.get("state", "")
        if state == "started":
            started.setdefault(name, at)
        else:
            durations.append((name, at - started.pop(name, previous_end)))
            previous_end = at
    return durations


def registry_manifest(registry, repo, tag):
    """(raw bytes, parsed JSON) of a manifest in the loopback registry."""
    request = urllib.request.Request(f"http://{registry}/v2/{repo}/manifests/{tag}",
                                     headers={"Accept": MANIFEST_ACCEPT})
    with urllib.request.urlopen(request, timeout=60) as response:
        raw = response.read()
    return raw, json.loads(raw)


def check_pushed(registry, repo, source_tag, result):
    """Problems with the pushed result: digest mismatch or not exactly one new layer."""
    problems = []
    raw, manifest = registry_manifest(registry, repo, result["target"])
    actual = "sha256:" + hashlib.sha256(raw).hexdigest()
    if actual != result["digest"]:
        problems.append(f"{repo}:{result['target']} has digest {actual}, copa printed {result['digest']}")
    _, source = registry_manifest(registry, repo, source_tag)
    if len(manifest["layers"]) != len(source["layers"]) + 1:
        problems.append(f"{repo}:{result['target']} has {len(manifest['layers'])} layers, "
                        f"expected {len(source['layers'])} + 1")
    elif [l["digest"] for l in manifest["layers"][:-1]] != [l["digest"] for l in source["layers"]]:
        problems.append(f"{repo}:{result['target']} does not keep the source layers unchanged")
    result["layer_bytes"] = manifest["layers"][-1]["size"]
    return problems


# --- the ideal pipeline ------------------------------------------------------

def release_entry(inrelease_text, path):
    """(sha256, size) of `path` in the SHA256 section of a Release file (Debian
    repository format, "Release files": fields MD5Sum/SHA256 list 'hash size path')."""
    in_sha256 = False
    for line in inrelease_text.splitlines():
        if line.startswith("SHA256:"):
            in_sha256 = True
            continue
        if in_sha256:
            if not line.startswith(" "):
                break
            parts = line.split()
            if len(parts) == 3 and parts[2] == path:
                return parts[0], int(parts[1])
    return None


def fetch_indexes(cache):
    """Timed: one curl for the 3 suites' InRelease + Packages.xz, into cache/indexes.
    Then (untimed) check each Packages.xz against its InRelease and return
    (seconds, bytes, {(package, version): [(url, sha256, size), ...]})."""
    argv = ["curl", "-fsS", "--retry", "2"]
    files = []
    for suite, base in SUITES:
        directory = os.path.join(cache, "indexes", suite)
        os.makedirs(directory, exist_ok=True)
        inrelease, packages = os.path.join(directory, "InRelease"), os.path.join(directory, "Packages.xz")
        argv += ["-o", inrelease, f"{base}/dists/{suite}/InRelease",
                 "-o", packages, f"{base}/dists/{suite}/{INDEX_PATH}"]
        files.append((suite, base, inrelease, packages))
    seconds, _ = timed(argv)
    total = 0
    table = {}
    for suite, base, inrelease, packages in files:
        data = open(packages, "rb").read()
        total += len(data) + os.path.getsize(inrelease)
        entry = release_entry(open(inrelease, encoding="utf-8", errors="replace").read(), INDEX_PATH)
        if entry is None:
            raise BenchError(f"{suite}/InRelease does not list {INDEX_PATH}")
        if hashlib.sha256(data).hexdigest() != entry[0] or len(data) != entry[1]:
            raise BenchError(f"{suite}/{INDEX_PATH} does not match its InRelease (mirror mid-update?); rerun")
        add_packages(table, lzma.decompress(data).decode("utf-8", "replace"), base)
    return seconds, total, table


def add_packages(table, text, base):
    """Adds every paragraph's (Package, Version) -> (url, sha256, size) to table."""
    for paragraph in text.split("\n\n"):
        fields = {}
        for line in paragraph.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, value = line.split(":", 1)
                if key in ("Package", "Version", "Filename", "SHA256", "Size", "Architecture"):
                    fields[key] = value.strip()
        if "Filename" in fields and fields.get("Architecture") in ("amd64", "all"):
            table.setdefault((fields["Package"], fields["Version"]), []).append(
                (f"{base}/{fields['Filename']}", fields.get("SHA256"), int(fields.get("Size", "0"))))


def wanted_packages(rows):
    """(name, version) of the packages the patch unpacks: updated ones and added dependencies."""
    wanted = []
    for name, _, to, outcome in rows:
        if outcome.startswith("updated") or outcome.startswith("added"):
            wanted.append((name.split(":", 1)[0], to))
    return wanted


def report_packages(report):
    """Fallback when copa failed: (PkgName, FixedVersion) pairs of the report."""
    pairs = []
    for result in json.load(open(report)).get("Results", []):
        for vuln in result.get("Vulnerabilities") or []:
            pair = (vuln["PkgName"], vuln.get("FixedVersion", ""))
            if pair[1] and pair not in pairs:
                pairs.append(pair)
    return pairs


def fetch_debs(wanted, table, directory):
    """Timed: one curl for all .debs; (seconds, bytes, paths)."""
    argv, paths, expected = ["curl", "-fsS", "--retry", "2"], [], []
    for name, version in wanted:
        candidates = table.get((name, version))
        if not candidates:
            raise BenchError(f"{name} {version} is in none of the bookworm, bookworm-updates, bookworm-security indexes")
        url, sha256, size = candidates[-1]  # the security/updates entry when several list it
        path = os.path.join(directory, f"{len(paths):02d}-{os.path.basename(url)}")
        argv += ["-o", path, url]
        paths.append(path)
        expected.append((path, sha256))
    seconds, _ = timed(argv)
    for path, sha256 in expected:
        if sha256 and hashlib.sha256(open(path, "rb").read()).hexdigest() != sha256:
            raise BenchError(f"{path} does not match the SHA256 of its Packages entry")
    return seconds, sum(os.path.getsize(p) for p in paths), paths


# Unpacked trees of all .debs as one tar stream; the raw stream's sha256sum runs
# beside gzip through a FIFO, so both digests come from one pass.
LAYER_SCRIPT = r"""
set -euo pipefail
out=$1; shift
mkfifo "$out/raw.fifo"
sha256sum <"$out/raw.fifo" >"$out/raw.sha256" &
hasher=$!
for deb in "$@"; do dpkg-deb --fsys-tarfile "$deb"; done |
    tee "$out/raw.fifo" | gzip -6 | tee "$out/layer.tar.gz" | sha256sum >"$out/layer.sha256"
wait "$hasher"
"""


def build_layer(paths, directory):
    """Timed: the tar | gzip | sha256sum pipeline; (seconds, compressed bytes, raw bytes)."""
    seconds, _ = timed(["bash", "-c", LAYER_SCRIPT, "layer", directory] + paths)
    compressed = os.path.getsize(os.path.join(directory, "layer.tar.gz"))
    listing = run(["gzip", "-l", os.path.join(directory, "layer.tar.gz")]).stdout.splitlines()
    raw = int(listing[-1].split()[1])  # gzip -l: compressed uncompressed ratio name
    for name in ("raw.sha256", "layer.sha256"):
        if not re.match(r"[0-9a-f]{64} ", open(os.path.join(directory, name)).read()):
            raise BenchError(f"the ideal layer pipeline wrote no digest to {name}")
    return seconds, compressed, raw


def copy_image(registry, repo, tag):
    """Timed: skopeo copy REPO:TAG to REPO:TAG-ideal in the same registry."""
    seconds, _ = timed(["skopeo", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false",
                        f"docker://{registry}/{repo}:{tag}", f"docker://{registry}/{repo}:{tag}-ideal"])
    return seconds


READ_SCRIPT = r"""
set -euo pipefail
url=$1; shift
while [ $# -gt 0 ]; do
    case $2 in
    *gzip) curl -fsS "$url/$1" | gzip -dc | tar -tf - >/dev/null ;;
    *zstd) curl -fsS "$url/$1" | zstd -dc | tar -tf - >/dev/null ;;
    *) curl -fsS "$url/$1" | tar -tf - >/dev/null ;;
    esac
    shift 2
done
"""


def read_layers(registry, repo, tag):
    """Timed: fetch the manifest and stream every layer through decompression and tar -t."""
    start = time.monotonic()
    _, manifest = registry_manifest(registry, repo, tag)
    args = []
    for layer in manifest["layers"]:
        args += [layer["digest"], layer["mediaType"]]
    run(["bash", "-c", READ_SCRIPT, "read", f"http://{registry}/v2/{repo}/blobs"] + args)
    return time.monotonic() - start, sum(l["size"] for l in manifest["layers"])


# --- one round and the table ---------------------------------------------------

def ideal_steps(args, repo, tag, wanted, table, values, label):
    """The ideal pipeline's timed steps for one image, recorded into values."""
    scratch = tempfile.mkdtemp(prefix=f"ideal-{label}-", dir=args.work)
    try:
        values["debs"], deb_bytes, paths = fetch_debs(wanted, table, scratch)
        values.update(deb_count=len(paths), deb_mb=deb_bytes / 2**20)
        values["layer"], compressed, raw = build_layer(paths, scratch)
        values.update(ideal_layer_mb=compressed / 2**20, ideal_raw_mb=raw / 2**20)
        values["copy"] = copy_image(args.registry, repo, tag)
        values["read"], layer_bytes = read_layers(args.registry, repo, tag)
        values["source_mb"] = layer_bytes / 2**20
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def one_round(args, images, out_dir, problems):
    """Every image once: project, then the ideal steps. Returns {label: {row: value}}."""
    round_results = {}
    index_seconds, index_bytes, table = fetch_indexes(args.cache)
    for label, ref in images:
        repo, tag = ref.rsplit(":", 1)
        values = {"indexes": index_seconds, "index_mb": index_bytes / 2**20}
        wanted = None
        try:
            project = run_copa(args, label, ref, out_dir)
            values.update(project=project["seconds"], rss=project["rss_kib"] / 1024, cpu=project["cpu"])
            for step, seconds in project["steps"]:
                values["step:" + step] = values.get("step:" + step, 0.0) + seconds
            problems += [f"{label}: {p}" for p in check_pushed(args.registry, repo, tag, project)]
            values["project_layer_mb"] = project["layer_bytes"] / 2**20
            wanted = wanted_packages(project["rows"])
            errored = [r for r in project["rows"] if r[3].startswith("ERROR")]
            if errored:
                problems.append(f"{label}: copa reported errors: {errored}")
            if not wanted:
                problems.append(f"{label}: copa updated no package")
        except BenchError as error:
            problems.append(f"{label}: {error}")
            log(f"{label}: {error}")
        if not wanted:
            wanted = report_packages(args.report)
            log(f"{label}: ideal pipeline uses the report's {len(wanted)} fixed versions instead")
        try:
            ideal_steps(args, repo, tag, wanted, table, values, label)
            values["ideal"] = values["indexes"] + values["debs"] + values["layer"] + values["copy"]
            values["ideal_read"] = values["ideal"] + values["read"]
        except BenchError as error:
            problems.append(f"{label}: ideal pipeline: {error}")
            log(f"{label}: ideal pipeline: {error}")
        round_results[label] = values
    return round_results


def median(rounds, label, key):
    samples = [r[label][key] for r in rounds if key in r.get(label, {})]
    return statistics.median(samples) if samples else None


def fmt(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def print_table(rounds, labels):
    keys = {key for r in rounds for values in r.values() for key in values}
    m = {label: {key: median(rounds, label, key) for key in keys} for label in labels}
    get = lambda label, key: m[label].get(key)  # noqa: E731
    first = labels[0]
    described = [
        ("source image compressed MB", "source_mb", 1),
        ("project: copa patch  s", "project", 2),
        ("project: CPU user+sys  s", "cpu", 2),
        ("project: peak RSS  MiB", "rss", 1),
        ("project: patch layer  MB", "project_layer_mb", 2),
        ("ideal: 3x InRelease+Packages.xz  s", "indexes", 2),
        ("ideal: curl .debs  s", "debs", 2),
        ("ideal: dpkg-deb|gzip -6|sha256  s", "layer", 2),
        ("ideal: skopeo copy (same repo)  s", "copy", 2),
        ("ideal total  s", "ideal", 2),
        ("ratio project / ideal", None, 2),
        ("extra: read source layers  s", "read", 2),
        ("ideal total + read layers  s", "ideal_read", 2),
        ("ratio project / (ideal + read)", None, 2),
    ]
    width = max(len(text) for text, _, _ in described) + 2
    print()
    print(f"{'':<{width}}" + "".join(f"{label:>14}" for label in labels))
    for text, key, digits in described:
        cells = []
        for label in labels:
            if text == "ratio project / ideal":
                value = ratio(get(label, "project"), get(label, "ideal"))
            elif text.startswith("ratio project / (ideal"):
                value = ratio(get(label, "project"), get(label, "ideal_read"))
            else:
                value = get(label, key)
            cells.append(f"{fmt(value, digits):>14}")
        print(f"{text:<{width}}" + "".join(cells))
    print()
    count, deb_mb = get(first, "deb_count"), get(first, "deb_mb")
    print(f"packages: {fmt(count, 0)} .debs, {fmt(deb_mb)} MB; ideal layer {fmt(get(first, 'ideal_layer_mb'))} MB "
          f"gzip of {fmt(get(first, 'ideal_raw_mb'))} MB tar; indexes {fmt(get(first, 'index_mb'))} MB")
    for label in labels:
        steps = [(key[5:], value) for key, value in m[label].items() if key.startswith("step:") and value is not None]
        order = [key[5:] for r in rounds for key in r.get(label, {}) if key.startswith("step:")]
        steps.sort(key=lambda item: order.index(item[0]))
        if steps:
            print(f"project steps ({label}), s: " + ", ".join(f"{name} {value:.2f}" for name, value in steps))
    for label in labels[1:]:
        flat = ratio(get(label, "rss"), get(first, "rss"))
        grown = (get(label, "source_mb") or 0) - (get(first, "source_mb") or 0)
        print(f"RSS flatness: {label} {fmt(get(label, 'rss'), 1)} MiB vs {first} {fmt(get(first, 'rss'), 1)} MiB "
              f"= {fmt(flat)}x with {grown:.0f} MB more image (flat = 1.00)")
    print("targets (stated by the project): project / ideal <= 2.00; RSS flat when the base grows")
    print(f"runs: {len(rounds)} (medians)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copa", required=True)
    parser.add_argument("--registry", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--work", required=True, help="scratch directory (workdirs, downloads)")
    parser.add_argument("--cache", required=True, help="kept between runs (Packages indexes)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("images", nargs="+", metavar="LABEL=REPO:TAG")
    args = parser.parse_args()
    images = []
    for spec in args.images:
        label, _, ref = spec.partition("=")
        if not label or ":" not in ref:
            parser.error(f"expected LABEL=REPO:TAG, got {spec!r}")
        images.append((label, ref))
    out_dir = os.path.join(args.cache, "logs")
    os.makedirs(out_dir, exist_ok=True)
    problems, rounds = [], []
    load_before = os.getloadavg()[0]
    try:
        for number in range(max(1, args.runs)):
            log(f"round {number + 1} of {max(1, args.runs)}")
            rounds.append(one_round(args, images, out_dir, problems))
    except BenchError as error:
        problems.append(str(error))
    if rounds:
        print_table(rounds, [label for label, _ in images])
        # Other work on the machine skews both sides; say how busy it was.
        print(f"load average (1 min): {load_before:.2f} at start, {os.getloadavg()[0]:.2f} at end, "
              f"{os.cpu_count()} CPUs")
    if problems:
        print("\nproblems:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
