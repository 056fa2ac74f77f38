using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Numerics;
using System.Text;
using System.Text.Json.Nodes;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Boc;
using Cocoon.Ton.Cells;
using Cocoon.Ton.Toncenter;

namespace Cocoon.Ton.Tests;

/// <summary>A loopback HTTP server that answers with canned toncenter-shaped JSON and records each request.</summary>
public sealed class FakeToncenter : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<Func<JsonNode, (int Status, string Body, string? RetryAfter)>> _answers = new();
    private readonly Task _loop;

    public FakeToncenter()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Endpoint = new Uri($"http://127.0.0.1:{port}/api/v2/");
        _listener.Prefixes.Add(Endpoint.AbsoluteUri);
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public Uri Endpoint { get; }

    public ConcurrentQueue<(string Path, string? ApiKey, JsonNode Body)> Requests { get; } = new();

    public void Answer(int status, string body, string? retryAfter = null) => _answers.Enqueue(_ => (status, body, retryAfter));

    public void AnswerOk(string resultJson) => Answer(200, $"{{\"ok\":true,\"result\":{resultJson},\"jsonrpc\":\"2.0\",\"id\":1}}");

    public void Hang() => _answers.Enqueue(_ => (-1, string.Empty, null));

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(async () =>
            {
                using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
                var body = JsonNode.Parse(await reader.ReadToEndAsync())!;
                Requests.Enqueue((context.Request.Url!.AbsolutePath, context.Request.Headers["X-API-Key"], body));
                var (status, text, retryAfter) = _answers.TryDequeue(out var f) ? f(body) : (500, "{\"ok\":false,\"error\":\"no canned answer\"}", null);
                if (status < 0)
                {
                    await Task.Delay(TimeSpan.FromSeconds(5));
                    status = 200;
                    text = "{\"ok\":true,\"result\":{}}";
                }

                try
                {
                    context.Response.StatusCode = status;
                    context.Response.ContentType = "application/json";
                    if (retryAfter is not null)
                    {
                        context.Response.Headers["Retry-After"] = retryAfter;
                    }

                    var bytes = Encoding.UTF8.GetBytes(text);
                    await context.Response.OutputStream.WriteAsync(bytes);
                    context.Response.Close();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or IOException)
                {
                    // The client gave up (timeout test).
                }
            });
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}

public class ToncenterClientTests : IDisposable
{
    private readonly FakeToncenter _server = new();
    private readonly HttpClient _http = new();
    private static readonly TonAddress Account = TonAddress.Parse("EQAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi4wJB");

    private ToncenterClient Client(int retries = 3, double timeoutSeconds = 10) => new(_http, new ToncenterOptions
    {
        Endpoint = _server.Endpoint,
        ApiKey = "secret-key",
        MaxRetries = retries,
        InitialBackoff = TimeSpan.FromMilliseconds(1),
        MaxBackoff = TimeSpan.FromMilliseconds(20),
        Timeout = TimeSpan.FromSeconds(timeoutSeconds),
    });

    public void Dispose()
    {
        _http.Dispose();
        _server.Dispose();
    }

    [Fact]
    public async Task SendBoc_posts_json_rpc_with_the_api_key_and_base64_boc()
    {
        var cell = new CellBuilder().StoreUInt(0xdeadbeef, 32).EndCell();
        _server.AnswerOk("{\"@type\":\"ok\"}");
        await Client().SendBocAsync(BagOfCells.Serialize(cell), TestContext.Current.CancellationToken);
        Assert.True(_server.Requests.TryDequeue(out var r));
        Assert.Equal("/api/v2/jsonRPC", r.Path);
        Assert.Equal("secret-key", r.ApiKey);
        Assert.Equal("2.0", r.Body["jsonrpc"]!.GetValue<string>());
        Assert.Equal("sendBoc", r.Body["method"]!.GetValue<string>());
        Assert.Equal(cell, BagOfCells.ParseBase64(r.Body["params"]!["boc"]!.GetValue<string>()));
    }

    [Fact]
    public async Task RunGetMethod_encodes_and_decodes_numbers_cells_and_slices()
    {
        var cell = new CellBuilder().StoreUInt(7, 8).EndCell();
        var b64 = Convert.ToBase64String(BagOfCells.Serialize(cell));
        _server.AnswerOk($$$"""
            {"gas_used":1234,"exit_code":0,"stack":[
              ["num","0x2a"],["num","-0x1"],["cell",{"bytes":"{{{b64}}}","object":{}}],["slice",{"bytes":"{{{b64}}}"}],
              ["tuple",{"elements":[{"@type":"tvm.stackEntryNumber","number":{"number":"99"}},{"@type":"tvm.stackEntryCell","cell":{"bytes":"{{{b64}}}"}}]}]
            ]}
            """);
        var result = await Client().RunGetMethodAsync(Account, "get_data",
            [TvmStackEntry.FromNumber(255), TvmStackEntry.FromNumber(-5), TvmStackEntry.FromNumber(0), TvmStackEntry.FromCell(cell), TvmStackEntry.FromSlice(cell)],
            TestContext.Current.CancellationToken);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(1234, result.GasUsed);
        Assert.Equal(new BigInteger(42), result.Stack[0].Number);
        Assert.Equal(BigInteger.MinusOne, result.Stack[1].Number);
        Assert.Equal(cell, result.Stack[2].Cell);
        Assert.Equal(TvmStackKind.Slice, result.Stack[3].Kind);
        Assert.Equal(new BigInteger(99), result.Stack[4].Items![0].Number);
        Assert.Equal(cell, result.Stack[4].Items![1].Cell);

        Assert.True(_server.Requests.TryDequeue(out var r));
        var p = r.Body["params"]!;
        Assert.Equal(Account.ToFriendlyString(), p["address"]!.GetValue<string>());
        Assert.Equal("get_data", p["method"]!.GetValue<string>());
        var stack = p["stack"]!.AsArray();
        Assert.Equal("""["num","0xff"]""", stack[0]!.ToJsonString());
        Assert.Equal("""["num","-0x5"]""", stack[1]!.ToJsonString());
        Assert.Equal("""["num","0x0"]""", stack[2]!.ToJsonString());
        Assert.Equal("tvm.Cell", stack[3]![0]!.GetValue<string>());
        Assert.Equal(cell, BagOfCells.ParseBase64(stack[4]![1]!.GetValue<string>()));
    }

    [Fact]
    public async Task GetAddressInformation_and_GetWalletInformation_decode_their_results()
    {
        var code = Convert.ToBase64String(BagOfCells.Serialize(new CellBuilder().StoreUInt(1, 8).EndCell()));
        var hash = Convert.ToBase64String(Enumerable.Repeat((byte)9, 32).ToArray());
        _server.AnswerOk($$"""{"@type":"raw.fullAccountState","balance":"123456789012","code":"{{code}}","data":"","last_transaction_id":{"@type":"internal.transactionId","lt":"47000000000003","hash":"{{hash}}"},"block_id":{},"frozen_hash":"","sync_utime":1700000000,"state":"active"}""");
        _server.AnswerOk($$"""{"wallet":true,"balance":"5","account_state":"active","wallet_type":"wallet v4 r2","seqno":17,"last_transaction_id":{"lt":"1","hash":"{{hash}}"},"wallet_id":698983191}""");
        var client = Client();
        var info = await client.GetAddressInformationAsync(Account, TestContext.Current.CancellationToken);
        Assert.Equal(new BigInteger(123456789012), info.Balance);
        Assert.Equal("active", info.State);
        Assert.NotNull(info.Code);
        Assert.Null(info.Data);
        Assert.Equal(47000000000003UL, info.LastTransaction!.Lt);
        Assert.Equal(1700000000, info.SyncUtime);
        var wallet = await client.GetWalletInformationAsync(Account, TestContext.Current.CancellationToken);
        Assert.True(wallet.IsWallet);
        Assert.Equal(17, wallet.Seqno);
        Assert.Equal(698983191, wallet.WalletId);
        Assert.Equal("wallet v4 r2", wallet.WalletType);
    }

    [Fact]
    public async Task GetTransactions_pages_by_lt_and_hex_hash()
    {
        var hash = Enumerable.Repeat((byte)0xAB, 32).ToArray();
        _server.AnswerOk($$"""
            [{"@type":"raw.transaction","utime":1700000001,"data":"","transaction_id":{"lt":"200","hash":"{{Convert.ToBase64String(hash)}}"},"fee":"1000",
              "in_msg":{"source":"","destination":"EQAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi4wJB","value":"0","hash":"aGFzaA==","message":""},
              "out_msgs":[{"source":"EQAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi4wJB","destination":"EQCSY_vTjwGrlvTvkfwhinJ60T2oiwgGn3U7Tpw24kupIhHz","value":"1000000000","message":"hello"}]}]
            """);
        var txs = await Client().GetTransactionsAsync(Account, 5, new TransactionId(300, hash), cancellationToken: TestContext.Current.CancellationToken);
        var tx = Assert.Single(txs);
        Assert.Equal(200UL, tx.Id.Lt);
        Assert.Equal(new BigInteger(1000), tx.Fee);
        Assert.Equal("aGFzaA==", tx.InMessage!.Hash);
        Assert.Equal(new BigInteger(1_000_000_000), tx.OutMessages[0].Value);
        Assert.Equal("hello", tx.OutMessages[0].Comment);
        Assert.True(_server.Requests.TryDequeue(out var r));
        Assert.Equal("300", r.Body["params"]!["lt"]!.GetValue<string>());
        Assert.Equal(Convert.ToHexStringLower(hash), r.Body["params"]!["hash"]!.GetValue<string>());
        Assert.Equal(5, r.Body["params"]!["limit"]!.GetValue<int>());
    }

    [Fact]
    public async Task Retries_on_429_and_5xx_then_succeeds()
    {
        _server.Answer(429, "{\"ok\":false,\"error\":\"Ratelimit exceed\",\"code\":429}", retryAfter: "0");
        _server.Answer(502, "bad gateway");
        _server.Answer(503, "{\"ok\":false,\"error\":\"busy\"}");
        _server.AnswerOk("{\"@type\":\"ok\"}");
        await Client(retries: 3).SendBocAsync(BagOfCells.Serialize(Cell.Empty), TestContext.Current.CancellationToken);
        Assert.Equal(4, _server.Requests.Count);
    }

    [Fact]
    public async Task Rate_limit_that_persists_becomes_a_typed_error()
    {
        for (var i = 0; i < 3; i++)
        {
            _server.Answer(429, "{\"ok\":false,\"error\":\"Ratelimit exceed\",\"code\":429}");
        }

        var e = await Assert.ThrowsAsync<ToncenterException>(() => Client(retries: 2).SendBocAsync(BagOfCells.Serialize(Cell.Empty), TestContext.Current.CancellationToken));
        Assert.Equal(ToncenterErrorKind.RateLimited, e.Kind);
        Assert.Equal(429, e.HttpStatus);
        Assert.Equal("sendBoc", e.Method);
        Assert.Contains("Ratelimit exceed", e.Message, StringComparison.Ordinal);
        Assert.Equal(3, _server.Requests.Count);
    }

    [Fact]
    public async Task Api_errors_are_not_retried()
    {
        _server.Answer(416, "{\"ok\":false,\"error\":\"LITE_SERVER_UNKNOWN: cannot apply external message to current state\",\"code\":416}");
        var e = await Assert.ThrowsAsync<ToncenterException>(() => Client().SendBocAsync(BagOfCells.Serialize(Cell.Empty), TestContext.Current.CancellationToken));
        Assert.Equal(ToncenterErrorKind.Api, e.Kind);
        Assert.Contains("cannot apply external message", e.Message, StringComparison.Ordinal);
        Assert.Single(_server.Requests);

        _server.AnswerOk("{\"gas_used\":1,\"exit_code\":0,\"stack\":[[\"weird\",1]]}");
        var p = await Assert.ThrowsAsync<ToncenterException>(() => Client().RunGetMethodAsync(Account, "seqno", cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(ToncenterErrorKind.Protocol, p.Kind);
    }

    [Fact]
    public async Task A_silent_server_times_out_with_a_typed_error()
    {
        _server.Hang();
        _server.Hang();
        var e = await Assert.ThrowsAsync<ToncenterException>(() => Client(retries: 1, timeoutSeconds: 0.3).SendBocAsync(BagOfCells.Serialize(Cell.Empty), TestContext.Current.CancellationToken));
        Assert.Equal(ToncenterErrorKind.Timeout, e.Kind);
    }

    [Fact]
    public async Task A_closed_port_is_a_network_error()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var client = new ToncenterClient(_http, new ToncenterOptions { Endpoint = new Uri($"http://127.0.0.1:{port}/api/v2"), MaxRetries = 1, InitialBackoff = TimeSpan.FromMilliseconds(1) });
        var e = await Assert.ThrowsAsync<ToncenterException>(() => client.GetAddressInformationAsync(Account, TestContext.Current.CancellationToken));
        Assert.Equal(ToncenterErrorKind.Network, e.Kind);
    }
}
