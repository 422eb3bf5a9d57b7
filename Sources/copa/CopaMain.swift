import Client

@main
struct CopaMain {
    static func main() async {
        await CopaCommand.main(nil)
    }
}
