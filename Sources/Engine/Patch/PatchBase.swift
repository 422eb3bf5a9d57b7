/// Where the original image ends. An image this project patched before ends
/// in our patch layer; patching it again replaces that layer, so the result is
/// always the original layers plus exactly one patch layer.
struct PatchBase: Sendable {
    /// `created_by` of the history entry of every patch layer we write.
    static let historyCreatedBy = "copa patch"

    let baseLayers: [Descriptor]
    let baseDiffIDs: [Digest]
    /// History entries of the original image (without our earlier patch entry).
    let baseHistory: [JSONValue]
    /// The earlier patch layer, when there is one.
    let previousPatch: Descriptor?

    init(_ image: SourceImage) throws {
        let diffIDs = try image.config.diffIDs()
        guard diffIDs.count == image.layers.count else {
            throw EngineError(.invalidInput,
                "the image has \(image.layers.count) layers but its configuration lists \(diffIDs.count) diff_ids")
        }
        let history = image.config.json["history"]?.arrayValue ?? []
        let last = history.last.flatMap { try? ImageConfiguration.History(json: $0) }
        if let last, last.createdBy == Self.historyCreatedBy, last.emptyLayer != true, image.layers.count >= 2 {
            baseLayers = Array(image.layers.dropLast())
            baseDiffIDs = Array(diffIDs.dropLast())
            baseHistory = Array(history.dropLast())
            previousPatch = image.layers.last
        } else {
            baseLayers = image.layers
            baseDiffIDs = diffIDs
            baseHistory = history
            previousPatch = nil
        }
    }
}
