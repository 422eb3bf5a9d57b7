import Foundation

/// Line-by-line state machine over the UTF-8 bytes of a control file. It
/// works on byte offsets because `Packages` indexes run to tens of megabytes:
/// a field's value is sliced straight out of the text (its continuation lines
/// are already joined by `"\n"` there), and a paragraph's original text is a
/// `Substring` sharing the file's storage.
struct ControlFileParser {
    /// A field whose value may still grow by continuation lines.
    private struct OpenField {
        var name: String
        /// Byte ranges of the value's lines, merged while they are adjacent
        /// (they are not only when a comment line sits between them).
        var ranges: [Range<Int>]

        mutating func appendLine(_ line: Range<Int>) {
            if let last = ranges.last, last.upperBound + 1 == line.lowerBound {
                ranges[ranges.count - 1] = last.lowerBound..<line.upperBound
            } else {
                ranges.append(line)
            }
        }
    }

    let text: String
    let syntax: ControlFile.Syntax
    private var paragraphs: [ControlParagraph] = []
    private var fields: [ControlField] = []
    private var names = Set<String>()
    private var open: OpenField?
    private var paragraphStart: Int?
    private var paragraphEnd = 0
    private var lineNumber = 0

    init(text: String, syntax: ControlFile.Syntax) {
        self.text = text
        self.syntax = syntax
    }

    mutating func parse() throws -> [ControlParagraph] {
        var storage = text
        try storage.withUTF8 { bytes in
            try rejectCarriageReturn(bytes)
            var lineStart = 0
            while lineStart < bytes.count {
                let lineEnd = Self.find(UInt8(ascii: "\n"), in: bytes, from: lineStart, to: bytes.count) ?? bytes.count
                lineNumber += 1
                try consume(bytes, lineStart..<lineEnd, next: min(lineEnd + 1, bytes.count))
                lineStart = lineEnd + 1
            }
            try finishParagraph(bytes)
        }
        return paragraphs
    }

    /// One pass with `memchr` instead of a check per line; the line number is
    /// only counted when there is something to report.
    private func rejectCarriageReturn(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        guard let position = Self.find(0x0D, in: bytes, from: 0, to: bytes.count) else { return }
        let line = bytes[..<position].reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
        throw EngineError(.invalidInput, "control file, line \(line): the line contains a carriage return; control files must use LF line endings, not CRLF")
    }

    private mutating func consume(_ bytes: UnsafeBufferPointer<UInt8>, _ line: Range<Int>, next: Int) throws {
        guard line.contains(where: { bytes[$0] != 0x20 && bytes[$0] != 0x09 }) else {
            // Policy 5.1: an empty line (or, tolerated, one of only blanks) ends a paragraph.
            try finishParagraph(bytes)
            return
        }
        let first = bytes[line.lowerBound]
        if first == UInt8(ascii: "#"), syntax == .allowingComments {
            extendParagraph(line, next: next)
            return
        }
        if first == 0x20 || first == 0x09 {
            guard open != nil else {
                throw error("the line is a continuation line (it starts with a space or tab) but no field precedes it")
            }
            open?.appendLine(line)
            extendParagraph(line, next: next)
            return
        }
        guard let colon = Self.find(UInt8(ascii: ":"), in: bytes, from: line.lowerBound, to: line.upperBound) else {
            throw error("the line has no ':'; every line of a paragraph must be 'Field: value' or a continuation starting with a space")
        }
        let name = String(decoding: bytes[line.lowerBound..<colon], as: UTF8.self)
        do {
            try ControlField.validateName(name)
        } catch let failure as EngineError {
            throw error(failure.message)
        }
        guard names.insert(ControlParagraph.key(name)).inserted else {
            throw error("field '\(name)' appears twice in one paragraph (Debian Policy 5.1)")
        }
        closeField(bytes)
        // Leading blanks go now; trailing ones only at the end of the whole
        // value (`closeField`), as dpkg does: a folded first line may keep them.
        var valueStart = colon + 1
        while valueStart < line.upperBound, bytes[valueStart] == 0x20 || bytes[valueStart] == 0x09 { valueStart += 1 }
        open = OpenField(name: name, ranges: [valueStart..<line.upperBound])
        extendParagraph(line, next: next)
    }

    private mutating func extendParagraph(_ line: Range<Int>, next: Int) {
        if paragraphStart == nil { paragraphStart = line.lowerBound }
        paragraphEnd = next
    }

    private mutating func closeField(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let field = open else { return }
        open = nil
        let value: String
        if field.ranges.count == 1, var range = field.ranges.first {
            // The common case: decode the slice in place.
            while !range.isEmpty, bytes[range.upperBound - 1] == 0x20 || bytes[range.upperBound - 1] == 0x09 {
                range = range.lowerBound..<(range.upperBound - 1)
            }
            value = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        } else {
            var joined: [UInt8] = []
            for (index, range) in field.ranges.enumerated() {
                if index > 0 { joined.append(UInt8(ascii: "\n")) }
                joined.append(contentsOf: bytes[range])
            }
            while let last = joined.last, last == 0x20 || last == 0x09 { joined.removeLast() }
            value = String(decoding: joined, as: UTF8.self)
        }
        fields.append(ControlField(unchecked: field.name, value: value))
    }

    private mutating func finishParagraph(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        closeField(bytes)
        defer {
            fields = []
            names = []
            paragraphStart = nil
        }
        guard !fields.isEmpty, let start = paragraphStart else { return }
        let utf8 = text.utf8
        let lower = utf8.index(utf8.startIndex, offsetBy: start)
        let upper = utf8.index(utf8.startIndex, offsetBy: paragraphEnd)
        paragraphs.append(ControlParagraph(parsed: fields, originalText: text[lower..<upper]))
    }

    private func error(_ reason: String) -> EngineError {
        EngineError(.invalidInput, "control file, line \(lineNumber): \(reason)")
    }

    private static func find(_ byte: UInt8, in bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int? {
        guard start < end, let base = bytes.baseAddress else { return nil }
        guard let hit = memchr(base + start, Int32(byte), end - start) else { return nil }
        return UnsafeRawPointer(hit) - UnsafeRawPointer(base)
    }
}
