/// Durations as the command line and the agent's policy write them: `90s`,
/// `5m`, `1h30m`, or a plain number of seconds.
public enum DurationParser {
    /// The duration, or nil for anything else, for zero (unless
    /// `allowingZero`) and for a value that does not fit in seconds.
    public static func parse(_ text: String, allowingZero: Bool = false) -> Duration? {
        if let seconds = Int64(text) {
            return seconds > 0 || (allowingZero && seconds == 0) ? .seconds(seconds) : nil
        }
        var total: Int64 = 0
        var number = ""
        for character in text {
            if character.isASCII, character.isNumber {
                number.append(character)
                continue
            }
            guard let value = Int64(number), let scale: Int64 = ["s": 1, "m": 60, "h": 3600][character] else { return nil }
            let (scaled, overflowed) = value.multipliedReportingOverflow(by: scale)
            let (sum, overflowedSum) = total.addingReportingOverflow(scaled)
            guard !overflowed, !overflowedSum else { return nil }
            total = sum
            number = ""
        }
        guard number.isEmpty, total > 0 || (allowingZero && total == 0 && !text.isEmpty) else { return nil }
        return .seconds(total)
    }
}
