using System.CommandLine;
using System.Runtime.InteropServices;
using Cocoon.Cli.Devnet;
using Cocoon.Node.Configuration;
using Cocoon.Node.Storage;

namespace Cocoon.Cli.Commands;

/// <summary><c>cocoon devnet [--data-dir DIR] [--port N] [--admin-port N] [--storage auto|postgresql|memory] [--verbose]</c>.</summary>
internal static class DevnetCommand
{
    public const int DefaultPort = 8080;

    public static Command Create()
    {
        var dataDir = new Option<string>("--data-dir")
        {
            Description = "Folder for the devnet's database and keys; the same folder keeps the same state.",
            DefaultValueFactory = _ => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cocoon", "devnet"),
        };
        var port = new Option<int>("--port")
        {
            Description = "Port of the HTTP gateway on 127.0.0.1.",
            DefaultValueFactory = _ => DefaultPort,
        };
        var adminPort = new Option<int>("--admin-port")
        {
            Description = "Port of the admin endpoint (metrics, health, dashboard) on 127.0.0.1: 9464 by default when free; 0 picks any free port.",
            DefaultValueFactory = _ => Node.Observability.AdminOptions.DefaultPort,
        };
        var storage = new Option<string>("--storage")
        {
            Description = "auto: a private PostgreSQL when the machine has its binaries, else memory.",
            DefaultValueFactory = _ => "auto",
        };
        storage.AcceptOnlyFromAmong("auto", "postgresql", "memory");
        var verbose = new Option<bool>("--verbose") { Description = "Show the silo's informational logs." };
        var noChain = new Option<bool>("--no-chain") { Description = "Run without the local TON chain: balances stay off chain, nothing is settled." };

        var command = new Command("devnet", "Run a whole Cocoon network on this machine: PostgreSQL, one silo with both roles, the gateway.")
        {
            dataDir, port, adminPort, storage, verbose, noChain,
        };
        CancellationTokenSource? stopSource = null;
        command.SetAction(async (parse, cancellationToken) =>
        {
            var portValue = parse.GetValue(port);
            if (portValue is < 1 or > 65535)
            {
                await Console.Error.WriteLineAsync($"cocoon devnet: --port {portValue} is not a TCP port (1-65535).");
                return 2;
            }

            var adminPortValue = parse.GetValue(adminPort);
            if (adminPortValue is < 0 or > 65535)
            {
                await Console.Error.WriteLineAsync($"cocoon devnet: --admin-port {adminPortValue} is not a TCP port (1-65535, or 0 for any free port).");
                return 2;
            }

            // Ctrl-C and SIGTERM cancel start-up too (the host's own console lifetime only exists once it is built),
            // and always end in an orderly stop: silo first, then PostgreSQL.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            stopSource = stop;
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
            cancellationToken = stop.Token;
            try
            {
                var runner = new DevnetRunner(
                    new DevnetRunOptions(parse.GetValue(dataDir)!, portValue, parse.GetValue(storage)!, parse.GetValue(verbose)) { Chain = !parse.GetValue(noChain), AdminPort = adminPortValue },
                    Console.Out, Console.Error);
                return await runner.RunAsync(cancellationToken);
            }
            catch (Exception e) when (e is DevnetException or CocoonConfigurationException or PostgresServerException or Node.Chain.TonLocalnetException)
            {
                await Console.Error.WriteLineAsync($"cocoon devnet: {e.Message}");
                return 1;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await Console.Error.WriteLineAsync("cocoon devnet: stopped before it was ready.");
                return 130;
            }
        });
        return command;

        void Cancel(PosixSignalContext context)
        {
            context.Cancel = true;
            stopSource?.Cancel();
        }
    }
}
