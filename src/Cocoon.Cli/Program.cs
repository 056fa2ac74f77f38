using System.CommandLine;
using Cocoon.Cli.Commands;

var root = new RootCommand("cocoon: operate a Cocoon confidential inference network.")
{
    DevnetCommand.Create(),
    AttestCommands.Create(),
    TonCommands.Create(),
};

// Process termination (Ctrl-C, SIGTERM) is left to the commands: the devnet's host stops the silo and then the
// database, which takes longer than System.CommandLine's default grace period.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
