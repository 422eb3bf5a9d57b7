/// Durations as the command line and the agent's policy write them: `90s`,
/// `5m`, `1h30m`, `250ms`, or a plain number of seconds.
public enum DurationParser {
    /// The duration, or nil for anything else, for zero (unless
    /// `allowingZero`) and for a value that does not fit.
    public static func parse(_ text: String, allowingZero: Bool = false) -> Duration? {
        if let seconds = Int64(text) {
            guard seconds > 0 || (allowingZero && seconds == 0) else { return nil }
            return seconds <= Int64.max / 1000 ? .seconds(seconds) : nil
        }
        let characters = Array(text)
        var milliseconds: Int64 = 0
        var number = ""
        var index = 0
        while index < characters.count {
            let character = characters[index]
            index += 1
            if character.isASCII, character.isNumber {
                number.append(character)
                continue
            }
            var unit = String(character)
            if character == "m", index < characters.count, characters[index] == "s" {
                unit = "ms"
                index += 1
            }
            guard let value = Int64(number), let scale: Int64 = ["ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000][unit] else {
                return nil
            }
            let (scaled, overflowed) = value.multipliedReportingOverflow(by: scale)
            let (sum, overflowedSum) = milliseconds.addingReportingOverflow(scaled)
            guard !overflowed, !overflowedSum else { return nil }
            milliseconds = sum
            number = ""
        }
        guard number.isEmpty, milliseconds > 0 || (allowingZero && milliseconds == 0 && !text.isEmpty) else { return nil }
        return .milliseconds(milliseconds)
    }
}
