import Foundation
import Client
import FuzzSupport

/// Scanner reports in every format `copa` reads (detected, and forced).
@main enum Harness {
    static func main() {
        fuzzMain { buffer in
            let bytes = Data(buffer)
            _ = try? ReportFormat.parse(bytes, source: "fuzz")
            for format in ReportFormat.allCases {
                _ = try? ReportFormat.parse(bytes, source: "fuzz", as: format)
            }
        }
    }
}
