import Protocol
import FuzzSupport

/// Frames on the wire: every message a hostile peer can send, and key files.
@main enum Harness {
    static func main() {
        fuzzMain { buffer in
            let bytes = Array(buffer)
            _ = Envelope.decode(frame: bytes)
            _ = try? CurveKeyPair.parse(String(decoding: bytes, as: UTF8.self))
        }
    }
}
