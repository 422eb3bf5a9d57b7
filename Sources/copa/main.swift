import Client

await CopaCommand.main()
