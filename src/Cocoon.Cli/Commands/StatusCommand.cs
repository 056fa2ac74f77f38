using System.CommandLine;
using Cocoon.Abstractions.Operations;
using Cocoon.Cli.Operations;

namespace Cocoon.Cli.Commands;

/// <summary>
/// <c>cocoon status [--all] [--json]</c>: the cluster's silos with their roles, membership status, address, uptime and
/// health (each active silo is asked directly; one that does not answer in 5 s is <c>unreachable</c>). Exit 1 when
/// an active silo is unreachable, so a script can page on it.
/// </summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var json = OperatorCommand.JsonOption();
        var all = new Option<bool>("--all") { Description = "Also list silos that membership declared dead." };
        var command = new Command("status", "Show the cluster's silos: roles, status, address, uptime, health.") { json, all };
        OperatorCommand.SetClusterAction(command, "status", async (parse, client, _) =>
        {
            var silos = await client.Grains.GetGrain<IClusterAdminGrain>(0).GetSilosAsync(parse.GetValue(all), TimeSpan.FromSeconds(5));
            var now = DateTimeOffset.UtcNow;
            if (parse.GetValue(json))
            {
                OperatorCommand.WriteJson(new
                {
                    silos = silos.Select(s => new
                    {
                        name = s.Name,
                        address = s.Address,
                        roles = s.Roles,
                        status = s.Status,
                        health = s.Health,
                        problem = s.Problem,
                        startedAt = s.StartedAt,
                        uptimeSeconds = (long)Math.Max(0, (now - s.StartedAt).TotalSeconds),
                        lastAliveAt = s.LastAliveAt,
                        version = s.Report?.Version,
                        processId = s.Report?.ProcessId,
                        workers = s.Report?.LocalWorkers ?? [],
                        workingSetBytes = s.Report?.WorkingSetBytes,
                    }),
                });
            }
            else
            {
                var table = OperatorCommand.Table("silo", "roles", "status", "health", "address", "uptime", "workers", "version");
                foreach (var s in silos)
                {
                    OperatorCommand.Row(table, s.Name, s.Roles, s.Status, s.Problem is null ? s.Health : $"{s.Health}: {s.Problem}", s.Address,
                        OperatorCommand.Duration(now - s.StartedAt), string.Join(", ", s.Report?.LocalWorkers ?? []), s.Report?.Version);
                }

                OperatorCommand.Write(table);
            }

            return silos.Any(s => s.Health == "unreachable") ? 1 : 0;
        });
        return command;
    }
}
