import Protocol

// Explicit conversions between the protobuf wire types and the model the
// client and the engine share. Wire types never enter the engine.

extension Platform {
    public var wire: Copa_Protocol_V1_Platform {
        var platform = Copa_Protocol_V1_Platform()
        platform.os = os
        platform.architecture = architecture
        platform.variant = variant ?? ""
        return platform
    }

    public init(wire: Copa_Protocol_V1_Platform) {
        self.init(os: wire.os, architecture: wire.architecture, variant: wire.variant.isEmpty ? nil : wire.variant)
    }
}

extension UpdateManifest {
    public var wire: Copa_Protocol_V1_UpdateManifest {
        var manifest = Copa_Protocol_V1_UpdateManifest()
        manifest.osFamily = os.family
        manifest.osVersion = os.version
        manifest.architecture = architecture
        manifest.updates = updates.map { update in
            var wire = Copa_Protocol_V1_PackageUpdate()
            wire.name = update.name
            wire.installedVersion = update.installedVersion
            wire.fixedVersion = update.fixedVersion
            wire.vulnerabilityIds = update.vulnerabilityIDs
            return wire
        }
        return manifest
    }

    public init(wire: Copa_Protocol_V1_UpdateManifest) {
        self.init(
            os: OS(family: wire.osFamily, version: wire.osVersion),
            architecture: wire.architecture,
            updates: wire.updates.map {
                Update(name: $0.name, installedVersion: $0.installedVersion, fixedVersion: $0.fixedVersion,
                       vulnerabilityIDs: $0.vulnerabilityIds)
            })
    }
}

