using System.CommandLine;
using System.Globalization;
using Cocoon.Abstractions.Settlement;
using Cocoon.Cli.Operations;

namespace Cocoon.Cli.Commands;

/// <summary><c>cocoon workers earnings [--json]</c>: what each linked worker earned and what was paid on chain.</summary>
internal static class WorkerEarningsCommand
{
    public static Command Create()
    {
        var worker = new Option<string?>("--worker") { Description = "One worker id (default: every worker linked to a worker contract)." };
        var json = OperatorCommand.JsonOption();
        var command = new Command("earnings", "Earned and paid tokens and TON per worker.") { worker, json };
        OperatorCommand.SetClusterAction(command, "workers earnings", async (parse, client, _) =>
        {
            var status = await client.Grains.GetGrain<ISettlementGrain>(ISettlementGrain.DefaultKey).GetStatusAsync();
            var ids = parse.GetValue(worker) is { } one ? [one] : status.Workers.Select(w => w.WorkerId).ToList();
            var rows = new List<(WorkerEarnings Earnings, WorkerChannel? Channel)>();
            foreach (var id in ids)
            {
                rows.Add((await client.Grains.GetGrain<IWorkerEarningsGrain>(id).GetAsync(), status.Workers.FirstOrDefault(w => w.WorkerId == id)));
            }

            if (parse.GetValue(json))
            {
                OperatorCommand.WriteJson(rows.Select(r => new
                {
                    worker = r.Earnings.WorkerId,
                    earnedTokens = r.Earnings.EarnedTokens,
                    paidTokens = r.Earnings.PaidTokens,
                    earnedNanoTon = r.Earnings.EarnedNanoTon,
                    paidNanoTon = r.Earnings.PaidNanoTon,
                    owner = r.Channel?.OwnerAddress,
                    contract = r.Channel?.ContractAddress,
                }));
                return 0;
            }

            var table = OperatorCommand.Table("worker", "earned (TON)", "paid on chain (TON)", "unpaid tokens", "owner");
            foreach (var (e, c) in rows)
            {
                OperatorCommand.Row(table, e.WorkerId, TonAmount.Format(e.EarnedNanoTon), TonAmount.Format(e.PaidNanoTon),
                    e.UnpaidTokens.ToString(CultureInfo.InvariantCulture), c?.OwnerAddress ?? "(not linked)");
            }

            OperatorCommand.Write(table);
            return 0;
        });
        return command;
    }
}
