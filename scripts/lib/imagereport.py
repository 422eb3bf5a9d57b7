"""Read OCI image layouts and write Trivy-format reports for the test fixtures.

Used by scripts/fixture-report.py and scripts/live-report.py. Standard library
only, so it runs on a fresh Debian 12 with nothing but python3 installed.

OCI image layout: https://github.com/opencontainers/image-spec/blob/main/image-layout.md
Trivy JSON report: SchemaVersion 2, as written by `trivy image --format json`.
"""

import datetime
import hashlib
import json
import os
import tarfile

REF_NAME = "org.opencontainers.image.ref.name"


class Image:
    """One manifest of an OCI layout, found by its ref-name annotation (the tag)."""

    def __init__(self, layout, tag):
        self.layout = layout
        with open(os.path.join(layout, "index.json")) as f:
            index = json.load(f)
        matches = [m for m in index.get("manifests", [])
                   if m.get("annotations", {}).get(REF_NAME) == tag]
        if len(matches) != 1:
            raise SystemExit(f"{layout}: expected one manifest tagged {tag!r}, found {len(matches)}")
        self.manifest_digest = matches[0]["digest"]
        self.manifest = self._json(self.manifest_digest)
        self.config_digest = self.manifest["config"]["digest"]
        self.config = self._json(self.config_digest)
        self.layers = [layer["digest"] for layer in self.manifest["layers"]]
        self.diff_ids = self.config["rootfs"]["diff_ids"]

    def blob_path(self, digest):
        algo, hexpart = digest.split(":", 1)
        return os.path.join(self.layout, "blobs", algo, hexpart)

    def _json(self, digest):
        with open(self.blob_path(digest), "rb") as f:
            return json.load(f)

    def _members(self):
        """Yield (diff_id, tar, member, clean_name) for every entry, bottom layer first."""
        for digest, diff_id in zip(self.layers, self.diff_ids):
            with tarfile.open(self.blob_path(digest), "r:*") as tar:
                for member in tar:
                    yield diff_id, tar, member, clean_name(member.name)

    def files(self, wanted):
        """Return {path: (bytes, diff_id)} for the paths in `wanted` (relative, no
        leading slash), each from the top-most layer that has it. Whiteouts hide
        lower layers only (OCI image-spec layer.md, "Whiteouts")."""
        found = {}
        layer_files, hidden, opaque, current = {}, set(), set(), None

        def settle():
            for path in list(found):
                if path in hidden or any(path.startswith(d + "/") for d in opaque):
                    del found[path]
            found.update(layer_files)

        for diff_id, tar, member, name in self._members():
            if diff_id != current:
                settle()
                layer_files, hidden, opaque, current = {}, set(), set(), diff_id
            base = os.path.basename(name)
            if base == ".wh..wh..opq":
                opaque.add(os.path.dirname(name))
            elif base.startswith(".wh."):
                hidden.add(os.path.join(os.path.dirname(name), base[4:]))
            elif name in wanted and member.isfile():
                layer_files[name] = (tar.extractfile(member).read(), diff_id)
        settle()
        return found

    def files_under(self, directory):
        """Like files(), for every regular file directly inside `directory`."""
        names = {name for _, _, member, name in self._members()
                 if os.path.dirname(name) == directory and member.isfile()}
        return self.files(names)


def clean_name(name):
    """Tar member name as a relative path: "./etc/x" and "/etc/x" become "etc/x"."""
    while name.startswith("./"):
        name = name[2:]
    return os.path.normpath(name.lstrip("/") or ".")


def paragraphs(text):
    """Parse deb822 control paragraphs (Debian Policy 5.1) into dicts."""
    result = []
    current = {}
    field = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                result.append(current)
            current, field = {}, None
        elif line[0] in " \t" and field:
            current[field] += "\n" + line
        elif ":" in line:
            field, value = line.split(":", 1)
            current[field] = value.strip()
    if current:
        result.append(current)
    return result


def vulnerability(vuln_id, pkg, installed, fixed, severity, title, diff_id, arch, os_name):
    """One entry of Results[].Vulnerabilities in Trivy's shape."""
    purl = f"pkg:deb/debian/{pkg}@{installed}?arch={arch}&distro=debian-{os_name}"
    entry = {
        "VulnerabilityID": vuln_id,
        "PkgID": f"{pkg}@{installed}",
        "PkgName": pkg,
        "PkgIdentifier": {
            "PURL": purl,
            "UID": hashlib.sha256(purl.encode()).hexdigest()[:16],
        },
        "InstalledVersion": installed,
        # Trivy omits FixedVersion when there is no fix (Status "affected").
        **({"FixedVersion": fixed} if fixed else {}),
        "Status": "fixed" if fixed else "affected",
        "Layer": {"DiffID": diff_id},
        "SeveritySource": "debian",
        "PrimaryURL": f"https://avd.aquasec.com/nvd/{vuln_id.lower()}",
        "DataSource": {
            "ID": "debian",
            "Name": "Debian Security Tracker",
            "URL": "https://salsa.debian.org/security-tracker-team/security-tracker",
        },
        "Title": title,
        "Description": title,
        "Severity": severity,
    }
    return entry


def report(image, artifact, os_name, vulns):
    """A complete SchemaVersion 2 report for `image` with the given vulnerabilities."""
    return {
        "SchemaVersion": 2,
        "CreatedAt": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "ArtifactName": artifact,
        "ArtifactType": "container_image",
        "Metadata": {
            "OS": {"Family": "debian", "Name": os_name},
            "ImageID": image.config_digest,
            "DiffIDs": image.diff_ids,
            "RepoTags": [artifact],
            "ImageConfig": image.config,
        },
        "Results": [{
            "Target": f"{artifact} (debian {os_name})",
            "Class": "os-pkgs",
            "Type": "debian",
            "Vulnerabilities": vulns,
        }],
    }


def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
