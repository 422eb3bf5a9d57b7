import Engine
import Foundation
import Protocol

/// Turns an executor's reports into Event messages of one job.
struct JobReporter: PatchReporter {
    let agent: Agent
    let key: Agent.JobKey

    func log(_ level: LogLevel, _ message: String) async {
        var line = Copa_Protocol_V1_LogLine()
        line.level = level.wire
        line.message = message
        await send(.log(line))
    }

    func step(_ name: String, _ state: StepState, detail: String) async {
        var step = Copa_Protocol_V1_Step()
        step.name = name
        step.state = state.wire
        step.detail = detail
        await send(.step(step))
    }

    func progress(step: String, current: UInt64, total: UInt64, unit: String) async {
        var progress = Copa_Protocol_V1_Progress()
        progress.step = step
        progress.current = current
        progress.total = total
        progress.unit = unit
        await send(.progress(progress))
    }

    private func send(_ kind: Copa_Protocol_V1_Event.OneOf_Kind) async {
        let jobID = key.id
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
        _ = await agent.emit(key) { sequence in
            var event = Copa_Protocol_V1_Event()
            event.jobID = jobID
            event.sequence = sequence
            event.timeUnixNano = now
            event.kind = kind
            return .event(event)
        }
    }
}

