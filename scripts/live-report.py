#!/usr/bin/env python3
"""Write a Trivy report for the live test image from the real security archive.

Usage: scripts/live-report.py LAYOUT TAG OUT.json [PACKAGES_XZ_URL]

Reads the installed packages from the image's /var/lib/dpkg/status, downloads
the bookworm-security Packages index (default
http://deb.debian.org/debian-security/dists/bookworm-security/main/binary-amd64/Packages.xz)
and lists every installed package whose security version is newer, compared
with `dpkg --compare-versions` (Debian Policy 5.6.12). Typical hits are libc6,
libc-bin, libssl3 and openssl. Vulnerability IDs are made up (CVE-2099-2NNN);
FixedVersion is the security archive's version. Prints the table it found and
exits non-zero if nothing is newer (the live test would have nothing to patch).
"""

import lzma
import os
import subprocess
import sys
import urllib.request

# Keep the source tree free of __pycache__ directories.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import imagereport  # noqa: E402

DEFAULT_URL = ("http://deb.debian.org/debian-security/dists/bookworm-security/"
               "main/binary-amd64/Packages.xz")


def newer(candidate, installed):
    """True when candidate > installed in dpkg's version order."""
    return subprocess.run(["dpkg", "--compare-versions", candidate, "gt", installed],
                          check=False).returncode == 0


def security_versions(url):
    """{(package, architecture): highest version} from a Packages.xz index."""
    with urllib.request.urlopen(url, timeout=60) as response:
        text = lzma.decompress(response.read()).decode("utf-8", "replace")
    best = {}
    for para in imagereport.paragraphs(text):
        key = (para["Package"], para["Architecture"])
        if key not in best or newer(para["Version"], best[key]):
            best[key] = para["Version"]
    return best


def main():
    if len(sys.argv) not in (4, 5):
        raise SystemExit(__doc__)
    layout, tag, out = sys.argv[1:4]
    url = sys.argv[4] if len(sys.argv) == 5 else DEFAULT_URL
    image = imagereport.Image(layout, tag)
    files = image.files({"var/lib/dpkg/status", "etc/debian_version"})
    if "var/lib/dpkg/status" not in files:
        raise SystemExit(f"{layout}:{tag}: no /var/lib/dpkg/status")
    status, status_layer = files["var/lib/dpkg/status"]
    os_name = files.get("etc/debian_version", (b"12", None))[0].decode().strip()

    security = security_versions(url)
    vulns = []
    for para in imagereport.paragraphs(status.decode("utf-8", "replace")):
        if not para.get("Status", "").endswith(" installed"):
            continue
        name, arch, version = para["Package"], para["Architecture"], para["Version"]
        fixed = security.get((name, arch)) or security.get((name, "all"))
        if fixed and newer(fixed, version):
            vuln_id = f"CVE-2099-{2001 + len(vulns)}"
            title = f"{name}: fixed in bookworm-security {fixed}"
            vulns.append(imagereport.vulnerability(
                vuln_id, name, version, fixed, "HIGH", title, status_layer, arch, os_name))
    artifact = f"live/{tag}:latest"
    imagereport.write_json(out, imagereport.report(image, artifact, os_name, vulns))

    print(f"live-report: debian {os_name}; {len(vulns)} packages have security updates")
    for v in vulns:
        print(f"  {v['VulnerabilityID']}  {v['PkgName']:<24} {v['InstalledVersion']:<24} -> {v['FixedVersion']}")
    if not vulns:
        raise SystemExit("live-report: no installed package has a newer security version")


if __name__ == "__main__":
    main()
