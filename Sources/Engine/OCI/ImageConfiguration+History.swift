extension ImageConfiguration {
    /// One entry of config.md "history".
    public struct History: Sendable, Hashable {
        public var created: String?
        public var createdBy: String?
        public var comment: String?
        /// True when the step made no layer; such entries have no diff_id.
        public var emptyLayer: Bool?
        public var author: String?

        public init(created: String? = nil, createdBy: String? = nil, comment: String? = nil,
                    emptyLayer: Bool? = nil, author: String? = nil) {
            self.created = created
            self.createdBy = createdBy
            self.comment = comment
            self.emptyLayer = emptyLayer
            self.author = author
        }

        init(json: JSONValue) throws {
            guard case .object = json else {
                throw EngineError(.invalidInput, "an image configuration history entry is not an object")
            }
            created = json["created"]?.stringValue
            createdBy = json["created_by"]?.stringValue
            comment = json["comment"]?.stringValue
            emptyLayer = json["empty_layer"]?.boolValue
            author = json["author"]?.stringValue
        }

        var json: JSONValue {
            var value = JSONValue.object([])
            value.set("created", created.map(JSONValue.string))
            value.set("author", author.map(JSONValue.string))
            value.set("created_by", createdBy.map(JSONValue.string))
            value.set("comment", comment.map(JSONValue.string))
            value.set("empty_layer", emptyLayer.map(JSONValue.bool))
            return value
        }
    }

    /// The history entries; fields beyond the spec's stay in `json`.
    public func history() throws -> [History] {
        guard let value = json["history"] else { return [] }
        guard let items = value.arrayValue else {
            throw EngineError(.invalidInput, "the image configuration's history is not an array")
        }
        return try items.map(History.init(json:))
    }

    /// Appends an entry after the existing ones, which are kept byte for byte.
    public mutating func appendHistory(_ entry: History) throws {
        var items: [JSONValue] = []
        if let value = json["history"] {
            guard let existing = value.arrayValue else {
                throw EngineError(.invalidInput, "the image configuration's history is not an array")
            }
            items = existing
        }
        items.append(entry.json)
        setField("history", .array(items))
    }
}
