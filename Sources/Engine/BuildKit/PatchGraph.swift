import BuildKitAPI
import Foundation

/// The LLB graph of one patch: image → install → diff → merge. Two ways to
/// install, chosen from what the probe found:
///
/// - the image has apt (`usr/bin/apt-get`, a dpkg `status` file and a shell):
///   `apt-get update` and `apt-get install` of the planned `name=version`s run
///   inside the image itself, maintainer scripts and triggers included;
/// - otherwise (distroless: `status.d`, no apt, no shell): a tooling image of
///   the same release runs with the image mounted at /target; it downloads
///   each planned .deb (checked against the SHA-256 of the signed index),
///   unpacks it into /target, removes files the old version had and the new
///   one does not, and rewrites the package's `status.d` entry and md5sums.
///
/// Report fields never reach a shell as text: the scripts below are constants
/// and every package name, version, URL and hash is a separate argument.
struct PatchGraph {
    enum Path: String { case apt, tooling }

    let definition: Pb_Definition
    let path: Path
    let summary: String
    /// What the chosen path does not do (tooling: maintainer scripts).
    let warnings: [PatchWarning]

    static let environment = [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "DEBIAN_FRONTEND=noninteractive",
    ]

    /// apt inside the image. `-o Dpkg::Options::=--force-confold` keeps a
    /// conffile the image changed (dpkg writes the new one as .dpkg-dist),
    /// as the native executor does. Lists and downloaded .debs live in
    /// BuildKit cache mounts, so they are shared by jobs and stay out of the layer.
    static let aptScript = """
        set -eu
        apt-get update -q
        apt-get install -y -q --no-install-recommends --allow-downgrades \
          -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef "$@"
        """

    /// The tooling path. Arguments come in fours: package name, status.d file
    /// name, .deb URL, SHA-256.
    static let toolingScript = """
        set -eu
        target=/target
        statusd="$target/var/lib/dpkg/status.d"
        work=$(mktemp -d)
        mkdir -p "$statusd"
        while [ "$#" -ge 4 ]; do
          name=$1; file=$2; url=$3; sum=$4; shift 4
          deb="$work/package.deb"
          rm -rf "$deb" "$work/control"
          echo "downloading $url"
          /usr/lib/apt/apt-helper -o APT::Sandbox::User=root download-file "$url" "$deb" "SHA256:$sum"
          dpkg-deb --control "$deb" "$work/control"
          if [ -f "$statusd/$name.md5sums" ] && [ -f "$work/control/md5sums" ]; then
            cut -c35- "$statusd/$name.md5sums" | sort > "$work/old"
            cut -c35- "$work/control/md5sums" | sort > "$work/new"
            comm -23 "$work/old" "$work/new" | while IFS= read -r path; do
              echo "removing /$path (not in the new version)"
              rm -f -- "$target/$path"
            done
          fi
          dpkg-deb --fsys-tarfile "$deb" | tar -x --keep-directory-symlink -C "$target"
          dpkg-deb --field "$deb" > "$statusd/$file"
          if [ -f "$work/control/md5sums" ]; then
            cp "$work/control/md5sums" "$statusd/$name.md5sums"
          fi
          echo "deployed $name $(dpkg-deb --field "$deb" Version)"
        done
        rm -rf "$work"
        """

    init(planned: PatchJob.Planned, source: RegistryReference, platform: Platform, toolingTemplate: String?) throws {
        let probe = planned.probe
        let installs = planned.plan.orderedInstalls
        let architecture = try DebianArchitectureName(platform).name
        var llb = LLBDefinition()
        let pinned = try RegistryReference(registry: source.registry, repository: source.repository, tag: nil,
                                           digest: planned.image.descriptor.digest)
        let image = try llb.image(pinned.description, platform: platform, name: "image \(source)")
        let release = [probe.osRelease.id, probe.osRelease.versionCodename ?? probe.osRelease.versionID ?? "unknown", architecture]
            .joined(separator: "-")
        let hasApt = probe.database.layout == .statusFile && probe.fileExists(probe.resolvingParents("usr/bin/apt-get"))
            && probe.fileExists(probe.resolvingParents("bin/sh"))
        let installed: LLBDefinition.Output
        if hasApt {
            path = .apt
            let arguments = installs.map { install in
                let package = install.package
                let qualified = package.architecture == "all" || package.architecture == architecture
                    ? package.name : "\(package.name):\(package.architecture)"
                return "\(qualified)=\(package.version)"
            }
            installed = try llb.exec(
                args: ["/bin/sh", "-c", Self.aptScript, "copa-apt"] + arguments,
                env: Self.environment,
                mounts: [
                    .init(dest: "/", kind: .layer(image, keep: true)),
                    .init(dest: "/var/lib/apt/lists", kind: .cache(id: "copa-apt-lists-\(release)")),
                    .init(dest: "/var/cache/apt", kind: .cache(id: "copa-apt-cache-\(release)")),
                ],
                platform: platform, network: .host,
                name: "apt-get install " + arguments.joined(separator: " "))[0]
            summary = "apt-get inside the image installs \(arguments.count) package(s)"
            warnings = []
        } else {
            path = .tooling
            let tooling = try Self.toolingImage(template: toolingTemplate, osRelease: probe.osRelease)
            let toolingRoot = try llb.image(tooling, platform: platform, name: "tooling image \(tooling)")
            var arguments: [String] = []
            var taken = Set(probe.database.entries.compactMap(\.file))
            for install in installs {
                let package = install.package
                let existing = probe.database.entries.first {
                    $0.name == package.name && ($0.architecture == package.architecture || $0.multiArch != .same)
                }?.file
                var file = existing ?? package.name
                if existing == nil, taken.contains(file) { file = "\(package.name):\(package.architecture)" }
                taken.insert(file)
                arguments += [package.name, file, package.url, package.sha256]
            }
            let outputs = try llb.exec(
                args: ["/bin/sh", "-c", Self.toolingScript, "copa-deploy"] + arguments,
                env: Self.environment,
                mounts: [
                    // BuildKit mounts a root without an output read-only; its
                    // output (0) is never used.
                    .init(dest: "/", kind: .layer(toolingRoot, keep: true)),
                    .init(dest: "/target", kind: .layer(image, keep: true)),
                ],
                platform: platform, network: .host,
                name: "deploy " + installs.map { "\($0.package.name)=\($0.package.version)" }.joined(separator: " "))
            installed = outputs[1]
            summary = "\(tooling) deploys \(installs.count) package(s) into the distroless image"
            warnings = installs.map { install in
                let name = install.package.name
                let known = MaintainerEffects.byPackage[name]
                return PatchWarning(package: name, kind: known?.kind ?? "maintainer-script-not-run",
                    message: known?.message ?? "deployed into a distroless image: maintainer scripts and triggers were not run")
            }
        }
        let layer = try llb.diff(lower: image, upper: installed, name: "patch layer (diff)")
        let merged = try llb.merge([image, layer], name: "original layers + patch layer")
        definition = try llb.definition(result: merged)
    }

    /// The tooling image for the target's release.
    static func toolingImage(template: String?, osRelease: OSRelease) throws -> String {
        let codename = osRelease.versionCodename ?? ""
        let version = osRelease.versionID ?? ""
        let chosen: String
        if let template {
            chosen = template
        } else if osRelease.id == "ubuntu" {
            chosen = "docker.io/library/ubuntu:{version}"
        } else {
            chosen = "docker.io/library/debian:{codename}-slim"
        }
        if (chosen.contains("{codename}") && codename.isEmpty) || (chosen.contains("{version}") && version.isEmpty) {
            throw EngineError(.invalidInput,
                "the image's os-release has no VERSION_CODENAME/VERSION_ID to pick a tooling image with; give the agent --tooling-image")
        }
        let reference = chosen.replacingOccurrences(of: "{id}", with: osRelease.id)
            .replacingOccurrences(of: "{codename}", with: codename)
            .replacingOccurrences(of: "{version}", with: version)
        return try RegistryReference(parsing: reference).description
    }
}
