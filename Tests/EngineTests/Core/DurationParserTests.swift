import Testing
@testable import Engine

/// The one duration syntax of `copa --timeout`, `copa-agent --shutdown-grace`
/// and the policy's `limits.max_job_timeout`.
@Suite struct DurationParserTests {
    @Test func readsUnitsSumsAndPlainSeconds() {
        #expect(DurationParser.parse("90s") == .seconds(90))
        #expect(DurationParser.parse("5m") == .seconds(300))
        #expect(DurationParser.parse("1h30m") == .seconds(5400))
        #expect(DurationParser.parse("45") == .seconds(45))
        #expect(DurationParser.parse("250ms") == .milliseconds(250))
        #expect(DurationParser.parse("1m500ms") == .milliseconds(60_500))
        #expect(DurationParser.parse("2m5s") == .seconds(125))
    }

    @Test func refusesZeroUnlessAllowedAndEverythingElse() {
        #expect(DurationParser.parse("0") == nil)
        #expect(DurationParser.parse("0s") == nil)
        #expect(DurationParser.parse("0s", allowingZero: true) == .zero)
        #expect(DurationParser.parse("", allowingZero: true) == nil)
        for text in ["", "s", "5", "5x", "m5", "-5s", "5 m", "forever", "٣s"] where text != "5" {
            #expect(DurationParser.parse(text) == nil, "\(text)")
        }
    }

    /// An hour count that does not fit in seconds is refused, not a trap
    /// (the client's parser multiplied without checking).
    @Test func refusesValuesThatOverflow() {
        #expect(DurationParser.parse("9999999999999999h") == nil)
        #expect(DurationParser.parse("9223372036854775807s1s") == nil)
    }
}
