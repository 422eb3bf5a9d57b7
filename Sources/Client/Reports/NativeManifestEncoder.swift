import CopaCore
import Foundation

/// Writes an `UpdateManifest` as Copa's v1alpha2 JSON (what `copa manifest`
/// prints), so Copa's own tooling can read what this client would send.
/// Output is deterministic: sorted keys, updates by package name, one entry
/// per vulnerability ID in sorted order, a trailing newline.
///
/// `NativeManifestParser` reads the output back to the same manifest for
/// every manifest whose updates name a fixed version newer than the
/// installed one (all manifests the parsers produce). An update without
/// vulnerability IDs is written as one entry with an empty vulnerabilityID.
public struct NativeManifestEncoder: Sendable {
    /// Copa's class for OS-package updates (Trivy's result class).
    static let osPackagesClass = "os-pkgs"

    public init() {}

    public func encode(_ manifest: UpdateManifest) throws -> Data {
        let document = NativeManifest.V1Alpha2(
            metadata: .init(
                os: .init(type: manifest.os.family, version: manifest.os.version),
                config: .init(arch: manifest.architecture)),
            osupdates: entries(of: manifest))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        do {
            var data = try encoder.encode(document)
            data.append(UInt8(ascii: "\n"))
            return data
        } catch {
            throw EngineError(.internal, "cannot encode the update manifest as Copa v1alpha2 JSON: \(error)")
        }
    }

    private func entries(of manifest: UpdateManifest) -> [NativeManifest.V1Alpha2.UpdatePackage] {
        let updates = manifest.updates.sorted { ($0.name, $0.fixedVersion) < ($1.name, $1.fixedVersion) }
        return updates.flatMap { update in
            let ids = Set(update.vulnerabilityIDs).sorted()
            return (ids.isEmpty ? [""] : ids).map { id in
                NativeManifest.V1Alpha2.UpdatePackage(
                    name: update.name, installedVersion: update.installedVersion,
                    fixedVersion: update.fixedVersion, vulnerabilityID: id,
                    // Copa's Trivy parser sets `type` to the result type,
                    // which for OS packages is the OS family.
                    type: manifest.os.family, class: Self.osPackagesClass)
            }
        }
    }
}
