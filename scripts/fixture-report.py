#!/usr/bin/env python3
"""Write the Trivy report for a fixture image built by scripts/fixture-image.

Usage: scripts/fixture-report.py LAYOUT TAG ARTIFACT_NAME OUT.json

The vulnerabilities are made up and refer to the fixture packages of
scripts/fixture-repo; every FixedVersion is the NEW version in the fixture
repository. Installed versions and the layer of each package are read from the
image itself (dpkg status or distroless status.d), so the report matches it.

  ID              package   fixed   severity
  CVE-2099-1001   fx-drop   1.0-2   HIGH
  CVE-2099-1002   fx-conf   1.0-2   MEDIUM
  CVE-2099-1003   fx-conf   1.0-2   LOW       (second entry for one package)
  CVE-2099-1004   fx-dep    2.0-1   CRITICAL  (needs fx-newdep, breaks fx-old 1.0-1)
  CVE-2099-1005   fx-multi  1.0-2   HIGH      (Multi-Arch: same)
  CVE-2099-1006   fx-drop   -       LOW       (no fix; Status "affected")
fx-old, fx-newdep: not listed; the patcher must bring them in through fx-dep.
"""

import os
import sys

# Keep the source tree free of __pycache__ directories.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import imagereport  # noqa: E402

OS_NAME = "12.5"
VULNS = [
    ("CVE-2099-1001", "fx-drop", "1.0-2", "HIGH", "fx-drop: gone.txt is world-readable"),
    ("CVE-2099-1002", "fx-conf", "1.0-2", "MEDIUM", "fx-conf: unsafe default setting"),
    ("CVE-2099-1003", "fx-conf", "1.0-2", "LOW", "fx-conf: verbose logging of secrets"),
    ("CVE-2099-1004", "fx-dep", "2.0-1", "CRITICAL", "fx-dep: remote code execution"),
    ("CVE-2099-1005", "fx-multi", "1.0-2", "HIGH", "fx-multi: buffer overflow in libfx"),
    ("CVE-2099-1006", "fx-drop", None, "LOW", "fx-drop: issue without a fix"),
]


def installed_packages(image):
    """{name: (version, arch, diff_id)} from var/lib/dpkg/status or status.d/*."""
    entries = image.files({"var/lib/dpkg/status"})
    entries.update(image.files_under("var/lib/dpkg/status.d"))
    result = {}
    for path, (data, diff_id) in entries.items():
        if path.endswith(".md5sums"):
            continue
        for para in imagereport.paragraphs(data.decode()):
            status = para.get("Status", "install ok installed")
            if status.endswith(" installed"):
                result[para["Package"]] = (para["Version"], para["Architecture"], diff_id)
    return result


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    layout, tag, artifact, out = sys.argv[1:]
    image = imagereport.Image(layout, tag)
    installed = installed_packages(image)
    vulns = []
    for vuln_id, pkg, fixed, severity, title in VULNS:
        if pkg not in installed:
            raise SystemExit(f"{layout}:{tag}: fixture package {pkg} is not installed")
        version, arch, diff_id = installed[pkg]
        vulns.append(imagereport.vulnerability(
            vuln_id, pkg, version, fixed, severity, title, diff_id, arch, OS_NAME))
    imagereport.write_json(out, imagereport.report(image, artifact, OS_NAME, vulns))
    print(f"fixture-report: {len(vulns)} vulnerabilities for {artifact}", file=sys.stderr)


if __name__ == "__main__":
    main()
