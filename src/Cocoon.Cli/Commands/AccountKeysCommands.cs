using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Operations;
using Cocoon.Cli.Operations;

namespace Cocoon.Cli.Commands;

/// <summary>
/// <c>cocoon accounts keys create|list|revoke</c>: API keys (issue 8 item 2). An account may have several keys; each
/// has its own spend limit (total charged through it) and request-rate limit. The key is made here, printed once,
/// and only its SHA-256 is sent to the cluster. Revocation holds from the next request.
/// </summary>
internal static class AccountKeysCommands
{
    /// <summary>The <c>keys</c> command, for the <c>accounts</c> command.</summary>
    public static Command Create()
    {
        var command = new Command("keys", "Create, list and revoke API keys.");
        command.Subcommands.Add(CreateCreate());
        command.Subcommands.Add(CreateList());
        command.Subcommands.Add(CreateRevoke());
        return command;
    }

    private static Command CreateCreate()
    {
        var account = new Option<string?>("--account") { Description = "The escrow account the key spends from (default: a new account)." };
        var spend = new Option<string?>("--spend-limit") { Description = "Most the key may have charged in total, in TON (e.g. 2.5); default none." };
        var rate = new Option<string?>("--rate-limit") { Description = "Most requests per minute, as N/min (e.g. 60/min); default none." };
        var label = new Option<string>("--label") { Description = "A name for people.", DefaultValueFactory = _ => "" };
        var json = OperatorCommand.JsonOption();
        var command = new Command("create", "Create an API key; it is printed once and never stored.") { account, spend, rate, label, json };
        OperatorCommand.SetClusterAction(command, "accounts keys create", async (parse, client, _) =>
        {
            var limits = new ApiKeyLimits
            {
                SpendLimitNanoTon = parse.GetValue(spend) is { } s
                    ? TonAmount.TryParse(s, out var nano) && nano > 0 ? nano : throw new CliUsageException($"--spend-limit {s}: expected a positive TON amount with at most 9 decimals.")
                    : 0,
                RequestsPerMinute = parse.GetValue(rate) is { } r ? ParseRate(r) : 0,
            };
            var accountId = parse.GetValue(account) ?? "acct_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
            if (string.IsNullOrWhiteSpace(accountId))
            {
                throw new CliUsageException("--account must not be empty.");
            }

            var key = ApiKeys.Generate();
            var details = await client.Grains.GetGrain<IApiKeyAdminGrain>(ApiKeys.Hash(key)).CreateAsync(accountId, parse.GetValue(label)!, limits);
            if (parse.GetValue(json))
            {
                var fields = Describe(details);
                fields["key"] = key;
                OperatorCommand.WriteJson(fields);
            }
            else
            {
                Console.WriteLine($"key:        {key}");
                Console.WriteLine($"key id:     {details.KeyId}");
                Console.WriteLine($"account:    {details.AccountId}");
                Console.WriteLine($"spend:      {Limit(details.Limits.SpendLimitNanoTon)}");
                Console.WriteLine($"rate:       {Rate(details.Limits.RequestsPerMinute)}");
                Console.WriteLine("The key is shown only now; Cocoon keeps only its hash. Store it.");
            }

            return 0;
        });
        return command;
    }

    private static Command CreateList()
    {
        var account = new Option<string?>("--account") { Description = "Only this account's keys." };
        var json = OperatorCommand.JsonOption();
        var command = new Command("list", "List API keys (never the keys themselves): id, account, state, spent, limits.") { account, json };
        OperatorCommand.SetClusterAction(command, "accounts keys list", async (parse, client, _) =>
        {
            var entries = await client.Grains.GetGrain<IApiKeyDirectoryGrain>(IApiKeyDirectoryGrain.Key).ListAsync(parse.GetValue(account));
            var keys = (await Task.WhenAll(entries.Select(e => client.Grains.GetGrain<IApiKeyAdminGrain>(e.KeyHash).GetDetailsAsync())))
                .OfType<ApiKeyDetails>().OrderBy(k => k.AccountId, StringComparer.Ordinal).ThenBy(k => k.CreatedAt).ToList();
            if (parse.GetValue(json))
            {
                OperatorCommand.WriteJson(new { keys = keys.Select(Describe) });
                return 0;
            }

            var table = OperatorCommand.Table("key id", "account", "label", "state", "created", "spent (TON)", "spend limit", "rate limit");
            foreach (var k in keys)
            {
                OperatorCommand.Row(table, k.KeyId, k.AccountId, k.Label, k.RevokedAt is null ? "active" : "revoked",
                    OperatorCommand.Instant(k.CreatedAt), TonAmount.Format(k.SpentNanoTon), Limit(k.Limits.SpendLimitNanoTon), Rate(k.Limits.RequestsPerMinute));
            }

            OperatorCommand.Write(table);
            return 0;
        });
        return command;
    }

    private static Command CreateRevoke()
    {
        var id = new Argument<string>("KEY_ID") { Description = "The key id (key_...), as 'cocoon accounts keys list' shows it." };
        var json = OperatorCommand.JsonOption();
        var command = new Command("revoke", "Revoke an API key: requests with it get 401 from the next one on.") { id, json };
        OperatorCommand.SetClusterAction(command, "accounts keys revoke", async (parse, client, _) =>
        {
            var keyId = parse.GetValue(id)!;
            var entry = await client.Grains.GetGrain<IApiKeyDirectoryGrain>(IApiKeyDirectoryGrain.Key).FindAsync(keyId)
                ?? throw new CliException($"no API key has the id '{keyId}' (see 'cocoon accounts keys list').");
            var details = await client.Grains.GetGrain<IApiKeyAdminGrain>(entry.KeyHash).RevokeAsync();
            if (parse.GetValue(json))
            {
                OperatorCommand.WriteJson(Describe(details));
            }
            else
            {
                Console.WriteLine($"key {details.KeyId} of account {details.AccountId} is revoked");
            }

            return 0;
        });
        return command;
    }

    internal static int ParseRate(string text)
    {
        var number = text.EndsWith("/min", StringComparison.Ordinal) ? text[..^4] : text;
        return int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new CliUsageException($"--rate-limit {text}: expected requests per minute as N/min with N at least 1 (e.g. 60/min).");
    }

    private static Dictionary<string, object?> Describe(ApiKeyDetails k) => new()
    {
        ["keyId"] = k.KeyId,
        ["account"] = k.AccountId,
        ["label"] = k.Label,
        ["state"] = k.RevokedAt is null ? "active" : "revoked",
        ["createdAt"] = k.CreatedAt,
        ["revokedAt"] = k.RevokedAt,
        ["spentNanoTon"] = k.SpentNanoTon,
        ["spendLimitNanoTon"] = k.Limits.SpendLimitNanoTon == 0 ? null : k.Limits.SpendLimitNanoTon,
        ["requestsPerMinute"] = k.Limits.RequestsPerMinute == 0 ? null : k.Limits.RequestsPerMinute,
    };

    private static string Limit(long nanoTon) => nanoTon == 0 ? "none" : TonAmount.Format(nanoTon) + " TON";

    private static string Rate(int perMinute) => perMinute == 0 ? "none" : perMinute.ToString(CultureInfo.InvariantCulture) + "/min";
}
