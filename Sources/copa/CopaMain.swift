import Client

@main
struct CopaMain {
    static func main() async {
        EmbeddedAgentHook.start = { workdir, logger in try await EmbeddedAgent.start(workdir: workdir, logger: logger) }
        await CopaCommand.main(nil)
    }
}
