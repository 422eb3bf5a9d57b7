@main
struct AgentMain {
    static func main() async {
        await AgentCommand.main(nil)
    }
}
