import SwiftProtobuf

/// Protocol version this build speaks (Envelope.protocol_version).
public enum ProtocolVersion {
    public static let current: UInt32 = 1
}

public typealias Envelope = Copa_Protocol_V1_Envelope

/// Something on the wire that is not a message of our protocol.
public struct ProtocolError: Error, Sendable, CustomStringConvertible {
    public let code: Copa_Protocol_V1_ErrorCode
    public let message: String
    public init(_ code: Copa_Protocol_V1_ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { message }
}

extension Envelope {
    public init(_ body: Envelope.OneOf_Body) {
        self.init()
        protocolVersion = ProtocolVersion.current
        self.body = body
    }

    /// Decodes one frame, checking that it is an envelope of a version we speak.
    public static func decode(frame: [UInt8]) -> Result<Envelope, ProtocolError> {
        let envelope: Envelope
        do {
            envelope = try Envelope(serializedBytes: frame)
        } catch {
            return .failure(ProtocolError(.protocol, "a \(frame.count)-byte frame is not a copa protocol envelope (\(error))"))
        }
        guard envelope.protocolVersion == ProtocolVersion.current else {
            return .failure(ProtocolError(
                .protocolVersion,
                "protocol version \(envelope.protocolVersion) is not supported; this side speaks \(ProtocolVersion.current)"))
        }
        guard envelope.body != nil else {
            return .failure(ProtocolError(.protocol, "the envelope carries no message this side knows"))
        }
        return .success(envelope)
    }

    public func frame() -> [UInt8] {
        // Serializing a fully-typed message only fails for missing required
        // fields, which proto3 does not have.
        (try? serializedBytes()) ?? []
    }
}
