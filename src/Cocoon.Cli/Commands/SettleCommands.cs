using System.CommandLine;
using Cocoon.Abstractions.Settlement;
using Cocoon.Cli.Operations;

namespace Cocoon.Cli.Commands;

/// <summary><c>cocoon settle now [--json]</c>: settle every outstanding charge and payout on chain now, ignoring thresholds.</summary>
internal static class SettleCommands
{
    public static Command Create()
    {
        var json = OperatorCommand.JsonOption();
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the chain to confirm.", DefaultValueFactory = _ => 60 };
        var now = new Command("now", "Credit new deposits, send every outstanding charge and payout, and wait until the chain has them.") { json, timeout };
        OperatorCommand.SetClusterAction(now, "settle now", async (parse, client, _) =>
        {
            var status = await client.Grains.GetGrain<ISettlementGrain>(ISettlementGrain.DefaultKey)
                .SettleNowAsync(TimeSpan.FromSeconds(Math.Clamp(parse.GetValue(timeout), 1, 110)));
            if (parse.GetValue(json))
            {
                OperatorCommand.WriteJson(status);
                return 0;
            }

            var table = OperatorCommand.Table("client / worker", "contract", "on chain (tokens)", "deposits (TON)");
            foreach (var c in status.Clients)
            {
                OperatorCommand.Row(table, "client " + c.AccountId, c.ContractAddress, c.ChargedOnChainTokens.ToString(System.Globalization.CultureInfo.InvariantCulture), TonAmount.Format(c.DepositsCredited));
            }

            foreach (var w in status.Workers)
            {
                OperatorCommand.Row(table, "worker " + w.WorkerId, w.ContractAddress, w.PaidOnChainTokens.ToString(System.Globalization.CultureInfo.InvariantCulture), "");
            }

            OperatorCommand.Write(table);
            Console.WriteLine($"settled through {status.ProxyWallet}; state commit seqno {status.CommittedSeqno}");
            return 0;
        });
        return new Command("settle", "On-chain settlement of the proxy.") { now };
    }
}
