import Protocol

@main
struct AgentMain {
    static func main() async {
        BrokenPipes.ignore()
        await AgentCommand.main(nil)
    }
}
