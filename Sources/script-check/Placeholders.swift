import ArgumentParser
struct MutateCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "mutate"); func run() throws {} }
