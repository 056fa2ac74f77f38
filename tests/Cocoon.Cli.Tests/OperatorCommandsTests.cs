using System.Text.Json;
using Cocoon.Inference.Models;
using Cocoon.Testing;

namespace Cocoon.Cli.Tests;

/// <summary>
/// The operator commands against a running devnet with two workers, as an operator runs them: real processes, their
/// <c>--json</c> output, their exit codes, and what the gateway does afterwards. One devnet for the class.
/// </summary>
public sealed class OperatorCommandsTests(OperatorDevnet devnet) : IClassFixture<OperatorDevnet>
{
    private const int Batch = 16;

    // Requests one after another; routing breaks ties between idle workers at random, so a batch that keeps landing on
    // one worker of two by chance has probability 2^-15.
    private async Task<HashSet<string>> WorkersOfBatchAsync(string tag, long? maxCoefficient = null)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Batch; i++)
        {
            seen.Add(await devnet.WorkerOfAsync($"{tag} {i}", maxCoefficient));
        }

        return seen;
    }

    // Routing reads the live set through a per-silo cache with a 2 s staleness bound: wait (up to a deadline) until a
    // whole batch shows the change rather than asserting when it does.
    private async Task EventuallyOnlyAsync(string worker, string tag, long? maxCoefficient = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        HashSet<string> seen;
        while (!(seen = await WorkersOfBatchAsync(tag, maxCoefficient)).SetEquals([worker]))
        {
            Assert.True(DateTime.UtcNow < deadline, $"requests still reach {string.Join(", ", seen)}");
            await Task.Delay(500, TestContext.Current.CancellationToken);
        }
    }

    private async Task EventuallyBothAsync(string tag)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        HashSet<string> seen;
        while ((seen = await WorkersOfBatchAsync(tag)).Count != 2)
        {
            Assert.True(DateTime.UtcNow < deadline, $"requests reach only {string.Join(", ", seen)}");
            await Task.Delay(500, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task Status_shows_both_silos_with_roles_addresses_uptime_and_health()
    {
        var json = await devnet.JsonAsync("status");

        var silos = json.GetProperty("silos").EnumerateArray().ToList();
        var proxy = silos.Single(s => s.GetProperty("name").GetString() == "devnet");
        var worker = silos.Single(s => s.GetProperty("name").GetString() == "w2");
        Assert.Equal("proxy,worker", proxy.GetProperty("roles").GetString());
        Assert.Equal("worker", worker.GetProperty("roles").GetString());
        foreach (var silo in new[] { proxy, worker })
        {
            Assert.Equal("Active", silo.GetProperty("status").GetString());
            Assert.Equal("ok", silo.GetProperty("health").GetString());
            Assert.StartsWith("127.0.0.1:", silo.GetProperty("address").GetString(), StringComparison.Ordinal);
            Assert.True(silo.GetProperty("uptimeSeconds").GetInt64() >= 0);
            Assert.True(silo.GetProperty("processId").GetInt32() > 0);
        }

        // The devnet serves the tiny text generation model beside MiniLM.
        Assert.Equal([OperatorDevnet.DevnetWorker, "devnet." + BuiltInModels.TinyLmName], proxy.GetProperty("workers").EnumerateArray().Select(w => w.GetString()).Order(StringComparer.Ordinal));
        Assert.Equal([OperatorDevnet.SecondWorker], worker.GetProperty("workers").EnumerateArray().Select(w => w.GetString()));

        var (code, table, _) = await devnet.CliAsync("status");
        Assert.Equal(0, code);
        Assert.Contains("proxy,worker", table, StringComparison.Ordinal);
        Assert.Contains(OperatorDevnet.SecondWorker, table, StringComparison.Ordinal);

        // Connection mistakes: one line each, 2 for a wrong command line, 1 when there is nothing to connect to.
        var (partial, _, partialError) = await devnet.CliAsync("status", "--membership", "Host=127.0.0.1");
        Assert.Equal(2, partial);
        Assert.Equal("cocoon status: --membership, --gateway and --image-hash are for a deployment: give its --cluster-id too.", partialError.Trim());
        await using var missing = NodeProcess.Start("cocoon", ["workers", "list", "--data-dir", Path.Combine(devnet.Directory, "nothing-here")]);
        Assert.Equal(1, await missing.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        Assert.StartsWith("cocoon workers list: no devnet is running with --data-dir", missing.StandardError.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Drain_disable_enable_and_set_coefficient_move_traffic_between_the_workers()
    {
        var list = await devnet.JsonAsync("workers", "list");
        var workers = list.GetProperty("workers").EnumerateArray().ToDictionary(w => w.GetProperty("id").GetString()!);
        foreach (var (id, silo) in new[] { (OperatorDevnet.DevnetWorker, "devnet"), (OperatorDevnet.SecondWorker, "w2") })
        {
            var w = workers[id];
            Assert.Equal(silo, w.GetProperty("silo").GetString());
            Assert.Equal(BuiltInModels.MiniLmName, w.GetProperty("model").GetString());
            Assert.Equal(4, w.GetProperty("capacity").GetInt32());
            Assert.Equal(1000, w.GetProperty("coefficient").GetInt64());
            Assert.Equal("enabled", w.GetProperty("state").GetString());
            Assert.True(w.GetProperty("live").GetBoolean());
            Assert.True(w.GetProperty("expiresAt").GetDateTimeOffset() > DateTimeOffset.UtcNow);
            Assert.Equal(0, w.GetProperty("running").GetInt32());
        }

        // Both workers serve while enabled.
        await EventuallyBothAsync("both");

        // Drain the devnet's own worker: everything goes to the other, and back after enable.
        var drained = await devnet.JsonAsync("workers", "drain", OperatorDevnet.DevnetWorker);
        Assert.Equal("draining", drained.GetProperty("state").GetString());
        Assert.False(drained.GetProperty("routable").GetBoolean());
        await EventuallyOnlyAsync(OperatorDevnet.SecondWorker, "drained");
        Assert.Equal("enabled", (await devnet.JsonAsync("workers", "enable", OperatorDevnet.DevnetWorker)).GetProperty("state").GetString());
        await EventuallyBothAsync("enabled");

        // Disable the other one.
        Assert.Equal("disabled", (await devnet.JsonAsync("workers", "disable", OperatorDevnet.SecondWorker)).GetProperty("state").GetString());
        await EventuallyOnlyAsync(OperatorDevnet.DevnetWorker, "disabled");
        var listed = (await devnet.JsonAsync("workers", "list")).GetProperty("workers").EnumerateArray()
            .Single(w => w.GetProperty("id").GetString() == OperatorDevnet.SecondWorker);
        Assert.Equal("disabled", listed.GetProperty("state").GetString());
        await devnet.JsonAsync("workers", "enable", OperatorDevnet.SecondWorker);

        // A coefficient of 1.5x: a request capped at 1.0x never reaches it, and one that lands on it pays 1.5x.
        var priced = await devnet.JsonAsync("workers", "set-coefficient", OperatorDevnet.SecondWorker, "1500");
        Assert.Equal(1500, priced.GetProperty("coefficient").GetInt64());
        Assert.Equal(1000, priced.GetProperty("registeredCoefficient").GetInt64());
        await EventuallyOnlyAsync(OperatorDevnet.DevnetWorker, "capped", maxCoefficient: 1000);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var (status, body, _) = await devnet.EmbedAsync(devnet.ApiKey, "priced at 1.5x");
            Assert.Equal(200, status);
            if (body.GetProperty("cocoon").GetProperty("worker").GetString() == OperatorDevnet.SecondWorker)
            {
                var tokens = body.GetProperty("usage").GetProperty("prompt_tokens").GetInt64();
                // DESIGN section 5: tokens x 1500 / 1000 x 10000 / 10000 x 20 nanoTON.
                Assert.Equal(tokens * 1500 / 1000 * 20, body.GetProperty("cocoon").GetProperty("cost_nanoton").GetInt64());
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "no request reached the re-priced worker");
        }

        Assert.Equal(1000, (await devnet.JsonAsync("workers", "set-coefficient", OperatorDevnet.SecondWorker, "reset")).GetProperty("coefficient").GetInt64());

        // Mistakes: one line, exit 1 for an unknown worker, 2 for a bad coefficient.
        var (unknownCode, _, unknownError) = await devnet.CliAsync("workers", "drain", "no-such-worker");
        Assert.Equal(1, unknownCode);
        Assert.Equal("cocoon workers drain: No worker 'no-such-worker' ever registered. (worker_not_found)", unknownError.Trim());
        var (badCode, _, badError) = await devnet.CliAsync("workers", "set-coefficient", OperatorDevnet.SecondWorker, "1.5");
        Assert.Equal(2, badCode);
        Assert.Single(badError.Trim().Split('\n'));
    }

    [Fact]
    public async Task Keys_are_created_listed_and_revoked_and_their_limits_hold_at_the_gateway()
    {
        // A key for the funded devnet account works at once; the listing shows what was charged through it.
        var created = await devnet.JsonAsync("accounts", "keys", "create", "--account", devnet.Account, "--label", "ops-test");
        var key = created.GetProperty("key").GetString()!;
        var keyId = created.GetProperty("keyId").GetString()!;
        Assert.StartsWith("sk-cocoon-", key, StringComparison.Ordinal);
        var (status, body, _) = await devnet.EmbedAsync(key, "with a new key");
        Assert.Equal(200, status);
        var cost = body.GetProperty("cocoon").GetProperty("cost_nanoton").GetInt64();
        var keys = (await devnet.JsonAsync("accounts", "keys", "list", "--account", devnet.Account)).GetProperty("keys").EnumerateArray().ToList();
        var mine = keys.Single(k => k.GetProperty("keyId").GetString() == keyId);
        Assert.Equal("active", mine.GetProperty("state").GetString());
        Assert.Equal("ops-test", mine.GetProperty("label").GetString());
        Assert.Equal(cost, mine.GetProperty("spentNanoTon").GetInt64());
        Assert.Contains(keys, k => k.GetProperty("label").GetString() == "devnet");
        Assert.DoesNotContain(key, (await devnet.CliAsync("accounts", "keys", "list")).Stdout, StringComparison.Ordinal);

        // Revoked: the next request is refused.
        Assert.Equal("revoked", (await devnet.JsonAsync("accounts", "keys", "revoke", keyId)).GetProperty("state").GetString());
        var (revokedStatus, revokedBody, _) = await devnet.EmbedAsync(key, "after revocation");
        Assert.Equal(401, revokedStatus);
        Assert.Equal("invalid_api_key", revokedBody.GetProperty("error").GetProperty("code").GetString());

        // Two requests a minute: the third is 429 with a Retry-After.
        var limited = (await devnet.JsonAsync("accounts", "keys", "create", "--account", devnet.Account, "--rate-limit", "2/min")).GetProperty("key").GetString()!;
        Assert.Equal(200, (await devnet.EmbedAsync(limited, "one")).Status);
        Assert.Equal(200, (await devnet.EmbedAsync(limited, "two")).Status);
        var (rateStatus, rateBody, retryAfter) = await devnet.EmbedAsync(limited, "three");
        Assert.Equal(429, rateStatus);
        Assert.Equal("rate_limit_exceeded", rateBody.GetProperty("error").GetProperty("code").GetString());
        Assert.InRange(int.Parse(retryAfter!, System.Globalization.CultureInfo.InvariantCulture), 1, 30);

        // A spend limit of 1 nanoTON: a request holds its worst case on the key before it runs, so none fits, and
        // nothing is spent.
        var capped = await devnet.JsonAsync("accounts", "keys", "create", "--account", devnet.Account, "--spend-limit", "0.000000001");
        Assert.Equal(1, capped.GetProperty("spendLimitNanoTon").GetInt64());
        var cappedKey = capped.GetProperty("key").GetString()!;
        var (spentStatus, spentBody, _) = await devnet.EmbedAsync(cappedKey, "first");
        Assert.Equal(402, spentStatus);
        Assert.Equal("key_spend_limit_reached", spentBody.GetProperty("error").GetProperty("code").GetString());
        var cappedListed = (await devnet.JsonAsync("accounts", "keys", "list", "--account", devnet.Account)).GetProperty("keys").EnumerateArray()
            .Single(k => k.GetProperty("keyId").GetString() == capped.GetProperty("keyId").GetString());
        Assert.Equal(0, cappedListed.GetProperty("spentNanoTon").GetInt64());

        // Without --account, a new (empty) account: the key works but the account cannot pay.
        var fresh = await devnet.JsonAsync("accounts", "keys", "create");
        Assert.StartsWith("acct_", fresh.GetProperty("account").GetString(), StringComparison.Ordinal);
        Assert.Equal(402, (await devnet.EmbedAsync(fresh.GetProperty("key").GetString()!, "no funds")).Status);

        // Closed by an operator: its requests are refused at once (409 account_closing); the refund follows the delay.
        var closed = await devnet.JsonAsync("accounts", "close", "--account", fresh.GetProperty("account").GetString()!);
        Assert.Equal("closing", closed.GetProperty("status").GetString());
        var (closingStatus, closingBody, _) = await devnet.EmbedAsync(fresh.GetProperty("key").GetString()!, "after the close");
        Assert.Equal(409, closingStatus);
        Assert.Equal("account_closing", closingBody.GetProperty("error").GetProperty("code").GetString());

        // Mistakes.
        var (rateCode, _, rateError) = await devnet.CliAsync("accounts", "keys", "create", "--rate-limit", "5/hour");
        Assert.Equal(2, rateCode);
        Assert.StartsWith("cocoon accounts keys create: --rate-limit 5/hour:", rateError.Trim(), StringComparison.Ordinal);
        var (unknownCode, _, unknownError) = await devnet.CliAsync("accounts", "keys", "revoke", "key_0000000000000000");
        Assert.Equal(1, unknownCode);
        Assert.Contains("no API key has the id 'key_0000000000000000'", unknownError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Models_are_listed_deployed_disabled_and_enabled()
    {
        var models = (await devnet.JsonAsync("models", "list")).GetProperty("models").EnumerateArray().ToList();
        var minilm = models.Single(m => m.GetProperty("name").GetString() == BuiltInModels.MiniLmName);
        Assert.Equal("embedding", minilm.GetProperty("kind").GetString());
        Assert.True(minilm.GetProperty("enabled").GetBoolean());
        Assert.Equal(BuiltInModels.MiniLmOnnxSha256, minilm.GetProperty("sha256").GetString());
        Assert.Equal(256, minilm.GetProperty("contextLength").GetInt32());

        var name = "ops-gen-" + Guid.NewGuid().ToString("N")[..6];
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("a model"u8));
        var deployed = await devnet.JsonAsync("models", "deploy", name, "--sha256", hash, "--context-length", "2048");
        Assert.Equal("text-generation", deployed.GetProperty("kind").GetString());
        Assert.Equal(hash, deployed.GetProperty("sha256").GetString());
        var listed = (await devnet.JsonAsync("models", "list")).GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == name);
        Assert.Equal(0, listed.GetProperty("workers").GetArrayLength());

        // Disabled: the gateway answers 404 (once its route cache has moved on); enabled: served again.
        Assert.False((await devnet.JsonAsync("models", "disable", BuiltInModels.MiniLmName)).GetProperty("enabled").GetBoolean());
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while ((await devnet.EmbedAsync(devnet.ApiKey, "disabled model")).Status != 404)
            {
                Assert.True(DateTime.UtcNow < deadline, "the disabled model is still served");
                await Task.Delay(250, TestContext.Current.CancellationToken);
            }
        }
        finally
        {
            Assert.True((await devnet.JsonAsync("models", "enable", BuiltInModels.MiniLmName)).GetProperty("enabled").GetBoolean());
        }

        var again = DateTime.UtcNow.AddSeconds(60);
        while ((await devnet.EmbedAsync(devnet.ApiKey, "enabled again")).Status != 200)
        {
            Assert.True(DateTime.UtcNow < again, "the enabled model is not served");
            await Task.Delay(250, TestContext.Current.CancellationToken);
        }

        // Mistakes: exit 2 for a bad hash or a new model without its context length; nothing is deployed.
        Assert.Equal(2, (await devnet.CliAsync("models", "deploy", "bad-hash", "--sha256", "xyz", "--context-length", "10")).ExitCode);
        Assert.Equal(2, (await devnet.CliAsync("models", "deploy", "no-context", "--sha256", hash)).ExitCode);
        Assert.DoesNotContain((await devnet.JsonAsync("models", "list")).GetProperty("models").EnumerateArray(),
            m => m.GetProperty("name").GetString() is "bad-hash" or "no-context");
    }

    [Fact]
    public async Task Bench_prints_its_figures_and_valid_json()
    {
        var json = await devnet.JsonAsync("bench", "--requests", "24", "--concurrency", "3");

        Assert.Equal("/v1/embeddings", json.GetProperty("endpoint").GetString());
        Assert.Equal(BuiltInModels.MiniLmName, json.GetProperty("model").GetString());
        Assert.Equal(24, json.GetProperty("requests").GetInt32());
        Assert.Equal(0, json.GetProperty("errors").GetInt32());
        Assert.Empty(json.GetProperty("errorsByKind").EnumerateObject());
        Assert.True(json.GetProperty("requestsPerSecond").GetDouble() > 0);
        var latency = json.GetProperty("latencyMs");
        var (p50, p95, p99) = (latency.GetProperty("p50").GetDouble(), latency.GetProperty("p95").GetDouble(), latency.GetProperty("p99").GetDouble());
        Assert.True(p50 > 0 && p50 <= p95 && p95 <= p99 && p99 <= latency.GetProperty("max").GetDouble());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("timeToFirstTokenMs").ValueKind);
        // Each request sends "... #N": the prompt tokens the usage reports are counted.
        Assert.True(json.GetProperty("tokens").GetInt64() >= 24 * 5);
        Assert.Equal("prompt", json.GetProperty("tokenKind").GetString());
        Assert.True(json.GetProperty("tokensPerSecond").GetDouble() > 0);

        var (code, stdout, stderr) = await devnet.CliAsync("bench", "--requests", "6", "--concurrency", "2");
        Assert.Equal(0, code);
        foreach (var figure in new[] { "requests/s", "errors", "latency", "p50", "p95", "p99", "time to first token", "tokens/s" })
        {
            Assert.Contains(figure, stdout, StringComparison.Ordinal);
        }

        Assert.Contains("bench: done, 6 requests", stderr, StringComparison.Ordinal);
        // Streamed chat on the devnet's tiny generation model: time to first token and completion tokens.
        var streamed = await devnet.JsonAsync("bench", "--requests", "6", "--concurrency", "2", "--stream", "--max-tokens", "8");
        Assert.Equal("/v1/chat/completions", streamed.GetProperty("endpoint").GetString());
        Assert.Equal(BuiltInModels.TinyLmName, streamed.GetProperty("model").GetString());
        Assert.True(streamed.GetProperty("stream").GetBoolean());
        Assert.Equal(6, streamed.GetProperty("requests").GetInt32());
        Assert.Equal(0, streamed.GetProperty("errors").GetInt32());
        var ttft = streamed.GetProperty("timeToFirstTokenMs");
        Assert.True(ttft.GetProperty("p50").GetDouble() > 0);
        Assert.True(ttft.GetProperty("max").GetDouble() <= streamed.GetProperty("latencyMs").GetProperty("max").GetDouble());
        Assert.Equal("completion", streamed.GetProperty("tokenKind").GetString());
        Assert.InRange(streamed.GetProperty("tokens").GetInt64(), 6, 6 * 8);

        var (streamCode, _, streamError) = await devnet.CliAsync("bench", "--requests", "2", "--stream", "--model", BuiltInModels.MiniLmName);
        Assert.Equal(2, streamCode);
        Assert.Contains("--stream is for chat models", streamError, StringComparison.Ordinal);
    }
}
