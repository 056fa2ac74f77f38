using System.CommandLine;
using System.Globalization;
using Cocoon.Abstractions.Operations;
using Cocoon.Cli.Operations;

namespace Cocoon.Cli.Commands;

/// <summary>
/// <c>cocoon workers list|drain|enable|disable|set-coefficient</c>: worker leases as operators run them (issue 8 item
/// 3). Drain: no new requests, running ones finish, until the worker registers anew; disable: none until enabled;
/// set-coefficient: the price coefficient at run time (<c>reset</c> returns to the worker's own). Routing sees each
/// change within its cache's staleness bound (2 s).
/// </summary>
internal static class WorkersCommands
{
    public static Command Create()
    {
        var command = new Command("workers", "List and control worker leases.");
        command.Subcommands.Add(CreateList());
        command.Subcommands.Add(CreateSetState("drain", WorkerAdminState.Draining, "Stop sending the worker new requests; running ones finish. Ends when the worker registers anew."));
        command.Subcommands.Add(CreateSetState("disable", WorkerAdminState.Disabled, "Stop sending the worker requests until it is enabled."));
        command.Subcommands.Add(CreateSetState("enable", WorkerAdminState.Enabled, "Send the worker requests again."));
        command.Subcommands.Add(CreateSetCoefficient());
        return command;
    }

    private static Command CreateList()
    {
        var json = OperatorCommand.JsonOption();
        var command = new Command("list", "Every registered worker: silo, model, capacity, running, coefficient, lease state and expiry.") { json };
        OperatorCommand.SetClusterAction(command, "workers list", async (parse, client, _) =>
        {
            var workers = await client.Grains.GetGrain<IClusterAdminGrain>(0).ListWorkersAsync();
            if (parse.GetValue(json))
            {
                OperatorCommand.WriteJson(new { workers = workers.Select(Describe) });
                return 0;
            }

            var now = DateTimeOffset.UtcNow;
            var table = OperatorCommand.Table("worker", "silo", "model", "capacity", "running", "coefficient", "state", "lease");
            foreach (var w in workers)
            {
                var d = w.Details;
                OperatorCommand.Row(table, d.WorkerId, w.SiloName ?? d.Registration.SiloAddress, d.Registration.Model,
                    d.Registration.Capacity.ToString(CultureInfo.InvariantCulture), w.Running.ToString(CultureInfo.InvariantCulture),
                    d.Coefficient.ToString(CultureInfo.InvariantCulture) + (d.CoefficientOverride is null ? "" : " (set)"),
                    d.AdminState,
                    d.Live ? $"live, expires in {OperatorCommand.Duration(d.ExpiresAt - now)}" : $"expired {OperatorCommand.Duration(now - d.ExpiresAt)} ago");
            }

            OperatorCommand.Write(table);
            return 0;
        });
        return command;
    }

    private static Command CreateSetState(string name, string state, string description)
    {
        var id = new Argument<string>("WORKER_ID") { Description = "The worker id, as 'cocoon workers list' shows it." };
        var json = OperatorCommand.JsonOption();
        var command = new Command(name, description) { id, json };
        OperatorCommand.SetClusterAction(command, "workers " + name, async (parse, client, _) =>
        {
            var details = await client.Grains.GetGrain<IWorkerAdminGrain>(parse.GetValue(id)!).SetStateAsync(state);
            Report(parse.GetValue(json), details, $"worker {details.WorkerId} is {details.AdminState}");
            return 0;
        });
        return command;
    }

    private static Command CreateSetCoefficient()
    {
        var id = new Argument<string>("WORKER_ID") { Description = "The worker id." };
        var value = new Argument<string>("COEFFICIENT") { Description = "Price coefficient, 1000 = 1.0x (at least 1), or 'reset' for the worker's own." };
        var json = OperatorCommand.JsonOption();
        var command = new Command("set-coefficient", "Change a worker's price coefficient at run time.") { id, value, json };
        OperatorCommand.SetClusterAction(command, "workers set-coefficient", async (parse, client, _) =>
        {
            var text = parse.GetValue(value)!;
            long? coefficient = text == "reset" ? null
                : long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1 ? n
                : throw new CliUsageException($"'{text}' is not a coefficient: a whole number of at least 1 (1000 = 1.0x), or 'reset'.");
            var details = await client.Grains.GetGrain<IWorkerAdminGrain>(parse.GetValue(id)!).SetCoefficientAsync(coefficient);
            Report(parse.GetValue(json), details, $"worker {details.WorkerId} coefficient is {details.Coefficient}" +
                                                  (details.CoefficientOverride is null ? " (its own)" : ""));
            return 0;
        });
        return command;
    }

    private static void Report(bool json, WorkerDetails details, string line)
    {
        if (json)
        {
            OperatorCommand.WriteJson(Describe(new WorkerStatus { Details = details, Running = 0 }, includeRunning: false));
        }
        else
        {
            Console.WriteLine(line);
        }
    }

    private static object Describe(WorkerStatus w) => Describe(w, includeRunning: true);

    private static Dictionary<string, object?> Describe(WorkerStatus w, bool includeRunning)
    {
        var d = w.Details;
        var fields = new Dictionary<string, object?>
        {
            ["id"] = d.WorkerId,
            ["model"] = d.Registration.Model,
            ["modelHash"] = d.Registration.ModelHash,
            ["silo"] = w.SiloName,
            ["siloAddress"] = d.Registration.SiloAddress,
            ["capacity"] = d.Registration.Capacity,
            ["running"] = includeRunning ? w.Running : null,
            ["coefficient"] = d.Coefficient,
            ["registeredCoefficient"] = d.Registration.Coefficient,
            ["coefficientOverride"] = d.CoefficientOverride,
            ["state"] = d.AdminState,
            ["live"] = d.Live,
            ["routable"] = d.Routable,
            ["registeredAt"] = d.RegisteredAt,
            ["expiresAt"] = d.ExpiresAt,
            ["executionProvider"] = d.Registration.ExecutionProvider,
            ["ownerAddress"] = d.Registration.OwnerAddress,
        };
        if (!includeRunning)
        {
            fields.Remove("running");
            fields.Remove("silo");
        }

        return fields;
    }
}
