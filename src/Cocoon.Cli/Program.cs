using System.CommandLine;
using Cocoon.Cli.Commands;

var root = new RootCommand("cocoon: operate a Cocoon confidential inference network.")
{
    DevnetCommand.Create(),
    AttestCommands.Create(),
    ReceiptsCommands.Create(),
    TonCommands.Create(),
    StatusCommand.Create(),
    WithSubcommand(WorkersCommands.Create(), WorkerEarningsCommand.Create()),
    ModelsCommands.Create(),
    new Command("accounts", "Escrow accounts and their API keys.") { AccountKeysCommands.Create(), AccountsCommands.CreateTopUp(), AccountsCommands.CreateShow(), AccountsCommands.CreateClose() },
    SettleCommands.Create(),
    BenchCommand.Create(),
};

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0 && parsed.Action is not System.CommandLine.Help.HelpAction)
{
    // Scripts read one line per problem on stderr and exit code 2; the help text is one --help away.
    foreach (var error in parsed.Errors)
    {
        await Console.Error.WriteLineAsync($"cocoon: {error.Message}");
    }

    return 2;
}

// Process termination (Ctrl-C, SIGTERM) is left to the commands: the devnet's host stops the silo and then the
// database, which takes longer than System.CommandLine's default grace period.
return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

static Command WithSubcommand(Command command, Command subcommand)
{
    command.Subcommands.Add(subcommand);
    return command;
}
