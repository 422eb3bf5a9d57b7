import Client
import Protocol

@main
struct CopaMain {
    static func main() async {
        BrokenPipes.ignore()
        EmbeddedAgentHook.start = { workdir, logger in try await EmbeddedAgent.start(workdir: workdir, logger: logger) }
        await CopaCommand.main(nil)
    }
}
