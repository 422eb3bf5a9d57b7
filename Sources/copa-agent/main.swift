import Agent

await AgentCommand.main()
