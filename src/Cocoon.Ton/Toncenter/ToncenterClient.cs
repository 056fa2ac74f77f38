using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Boc;
using Cocoon.Ton.Cells;

namespace Cocoon.Ton.Toncenter;

/// <summary>Where and how to reach a toncenter v2 endpoint.</summary>
public sealed record ToncenterOptions
{
    /// <summary>The API base, e.g. https://toncenter.com/api/v2/ (requests go to its <c>jsonRPC</c>).</summary>
    public required Uri Endpoint { get; init; }

    /// <summary>Sent as the <c>X-API-Key</c> header when set (ton-org/ton HttpApi.ts).</summary>
    public string? ApiKey { get; init; }

    /// <summary>Time allowed for one attempt.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries after the first attempt, on 429, 5xx, timeouts and connection failures.</summary>
    public int MaxRetries { get; init; } = 3;

    /// <summary>Delay before the first retry; doubles each time up to <see cref="MaxBackoff"/>. Retry-After wins when sent.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Longest delay between attempts.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(8);
}

/// <summary>What went wrong talking to toncenter.</summary>
public enum ToncenterErrorKind
{
    /// <summary>429 Too Many Requests, still after every retry.</summary>
    RateLimited,

    /// <summary>5xx, still after every retry.</summary>
    ServerError,

    /// <summary>No answer within the timeout, after every retry.</summary>
    Timeout,

    /// <summary>Connection refused, reset or DNS failure, after every retry.</summary>
    Network,

    /// <summary>The API refused the call (<c>ok: false</c> or a 4xx other than 429), e.g. a rejected message.</summary>
    Api,

    /// <summary>The answer was not the JSON the API documents.</summary>
    Protocol,
}

/// <summary>The one exception type the toncenter client throws (besides caller cancellation).</summary>
public sealed class ToncenterException : Exception
{
    public ToncenterException()
    {
    }

    public ToncenterException(string message)
        : base(message)
    {
    }

    public ToncenterException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public ToncenterException(ToncenterErrorKind kind, string method, string message, int? httpStatus = null, Exception? inner = null)
        : base($"toncenter {method}: {message}", inner)
    {
        Kind = kind;
        Method = method;
        HttpStatus = httpStatus;
    }

    /// <summary>The class of failure.</summary>
    public ToncenterErrorKind Kind { get; }

    /// <summary>The JSON-RPC method called.</summary>
    public string Method { get; } = string.Empty;

    /// <summary>The last HTTP status seen, if any.</summary>
    public int? HttpStatus { get; }
}

/// <summary>
/// A client for the toncenter v2 JSON-RPC API (ton-and-tdx.md section 4; docs.ton.org ecosystem/api/toncenter/v2):
/// POST <c>{endpoint}/jsonRPC</c> with <c>{id, jsonrpc: "2.0", method, params}</c>, answer <c>{ok, result}</c>.
/// Retries with exponential backoff on 429 and 5xx; every failure is a <see cref="ToncenterException"/>.
/// </summary>
public sealed class ToncenterClient
{
    private readonly HttpClient _http;
    private readonly ToncenterOptions _options;
    private readonly TimeProvider _time;
    private readonly Uri _rpcUri;
    private long _nextId;

    /// <summary>Creates a client over an <see cref="HttpClient"/> the caller owns (e.g. from IHttpClientFactory).</summary>
    public ToncenterClient(HttpClient http, ToncenterOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(options);
        _http = http;
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        var baseUri = options.Endpoint.AbsoluteUri.EndsWith('/') ? options.Endpoint : new Uri(options.Endpoint.AbsoluteUri + "/");
        _rpcUri = new Uri(baseUri, "jsonRPC");
    }

    /// <summary>Sends a serialized external message (<c>sendBoc</c>).</summary>
    public async Task SendBocAsync(ReadOnlyMemory<byte> boc, CancellationToken cancellationToken = default)
    {
        await CallAsync("sendBoc", new JsonObject { ["boc"] = Convert.ToBase64String(boc.Span) }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs a get-method (<c>runGetMethod</c>) and decodes its stack.</summary>
    public async Task<RunGetMethodResult> RunGetMethodAsync(TonAddress address, string method, IReadOnlyList<TvmStackEntry>? stack = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        var encoded = new JsonArray();
        foreach (var entry in stack ?? [])
        {
            encoded.Add(entry.ToRequestJson());
        }

        var result = await CallAsync("runGetMethod", new JsonObject
        {
            ["address"] = address.ToFriendlyString(),
            ["method"] = method,
            ["stack"] = encoded,
        }, cancellationToken).ConfigureAwait(false);
        return Decode("runGetMethod", () =>
        {
            var items = new List<TvmStackEntry>();
            foreach (var item in result["stack"]?.AsArray() ?? [])
            {
                items.Add(TvmStackEntry.FromResponseJson(item));
            }

            return new RunGetMethodResult(ReadInt(result["exit_code"]), ReadLong(result["gas_used"]), items);
        });
    }

    /// <summary>Balance, state, code, data and last transaction of an account (<c>getAddressInformation</c>).</summary>
    public async Task<AddressInformation> GetAddressInformationAsync(TonAddress address, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        var r = await CallAsync("getAddressInformation", new JsonObject { ["address"] = address.ToFriendlyString() }, cancellationToken).ConfigureAwait(false);
        return Decode("getAddressInformation", () => new AddressInformation(
            ReadBig(r["balance"]),
            r["state"]?.GetValue<string>() ?? "uninitialized",
            ReadBoc(r["code"]),
            ReadBoc(r["data"]),
            ReadTransactionId(r["last_transaction_id"]),
            r["sync_utime"] is null ? 0 : ReadLong(r["sync_utime"])));
    }

    /// <summary>Wallet view of an account: type, seqno, wallet id (<c>getWalletInformation</c>).</summary>
    public async Task<WalletInformation> GetWalletInformationAsync(TonAddress address, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        var r = await CallAsync("getWalletInformation", new JsonObject { ["address"] = address.ToFriendlyString() }, cancellationToken).ConfigureAwait(false);
        return Decode("getWalletInformation", () => new WalletInformation(
            r["wallet"]?.GetValue<bool>() ?? false,
            ReadBig(r["balance"]),
            r["account_state"]?.GetValue<string>() ?? "uninitialized",
            r["wallet_type"]?.GetValue<string>(),
            r["seqno"] is null ? null : ReadLong(r["seqno"]),
            r["wallet_id"] is null ? null : ReadLong(r["wallet_id"]),
            ReadTransactionId(r["last_transaction_id"])));
    }

    /// <summary>Recent transactions of an account, newest first (<c>getTransactions</c>).</summary>
    public async Task<IReadOnlyList<TonTransaction>> GetTransactionsAsync(TonAddress address, int limit = 10, TransactionId? from = null, ulong? toLt = null, bool archival = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        var p = new JsonObject { ["address"] = address.ToFriendlyString(), ["limit"] = limit };
        if (from is not null)
        {
            p["lt"] = from.Lt.ToString(CultureInfo.InvariantCulture);
            p["hash"] = Convert.ToHexStringLower(from.Hash);
        }

        if (toLt is not null)
        {
            p["to_lt"] = toLt.Value.ToString(CultureInfo.InvariantCulture);
        }

        if (archival)
        {
            p["archival"] = true;
        }

        var r = await CallAsync("getTransactions", p, cancellationToken).ConfigureAwait(false);
        return Decode("getTransactions", () =>
        {
            var list = new List<TonTransaction>();
            foreach (var t in r.AsArray())
            {
                if (t is null)
                {
                    throw new FormatException("null transaction");
                }

                var outs = new List<TransactionMessage>();
                foreach (var m in t["out_msgs"]?.AsArray() ?? [])
                {
                    outs.Add(ReadMessage(m ?? throw new FormatException("null out_msgs entry")));
                }

                list.Add(new TonTransaction(
                    ReadTransactionId(t["transaction_id"]) ?? throw new FormatException("transaction without transaction_id"),
                    ReadLong(t["utime"]),
                    ReadBig(t["fee"]),
                    ReadBoc(t["data"]),
                    t["in_msg"] is { } inMsg ? ReadMessage(inMsg) : null,
                    outs));
            }

            return (IReadOnlyList<TonTransaction>)list;
        });
    }

    private async Task<JsonNode> CallAsync(string method, JsonObject parameters, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["id"] = Interlocked.Increment(ref _nextId),
            ["jsonrpc"] = "2.0",
            ["method"] = method,
            ["params"] = parameters,
        }.ToJsonString();

        for (var attempt = 0; ; attempt++)
        {
            var last = attempt >= _options.MaxRetries;
            TimeSpan? retryAfter = null;
            ToncenterException failure;
            using (var attemptCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                attemptCts.CancelAfter(_options.Timeout);
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, _rpcUri)
                    {
                        Content = new StringContent(body, Encoding.UTF8, "application/json"),
                    };
                    if (!string.IsNullOrEmpty(_options.ApiKey))
                    {
                        request.Headers.Add("X-API-Key", _options.ApiKey);
                    }

                    request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
                    using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, attemptCts.Token).ConfigureAwait(false);
                    var text = await response.Content.ReadAsStringAsync(attemptCts.Token).ConfigureAwait(false);
                    var status = (int)response.StatusCode;
                    if (response.StatusCode == HttpStatusCode.TooManyRequests || status >= 500)
                    {
                        retryAfter = response.Headers.RetryAfter?.Delta;
                        failure = new ToncenterException(
                            status == 429 ? ToncenterErrorKind.RateLimited : ToncenterErrorKind.ServerError,
                            method,
                            $"HTTP {status} after {attempt + 1} attempt(s): {Shorten(ErrorText(text))}",
                            status);
                    }
                    else
                    {
                        return Interpret(method, status, text);
                    }
                }
                catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                {
                    failure = new ToncenterException(ToncenterErrorKind.Timeout, method, $"no answer within {_options.Timeout.TotalSeconds:0.###} s after {attempt + 1} attempt(s)", null, e);
                }
                catch (HttpRequestException e)
                {
                    failure = new ToncenterException(ToncenterErrorKind.Network, method, $"{e.Message} after {attempt + 1} attempt(s)", null, e);
                }
            }

            if (last)
            {
                throw failure;
            }

            var backoff = TimeSpan.FromTicks(Math.Min(_options.MaxBackoff.Ticks, _options.InitialBackoff.Ticks << Math.Min(attempt, 30)));
            if (retryAfter is { } ra && ra > backoff)
            {
                backoff = ra < _options.MaxBackoff ? ra : _options.MaxBackoff;
            }

            await Task.Delay(backoff, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private static JsonNode Interpret(string method, int status, string text)
    {
        JsonNode? json;
        try
        {
            json = JsonNode.Parse(text, documentOptions: StrictJson);
        }
        catch (JsonException e)
        {
            throw new ToncenterException(status >= 400 ? ToncenterErrorKind.Api : ToncenterErrorKind.Protocol, method, $"HTTP {status}, not JSON: {Shorten(text)}", status, e);
        }

        if (json is not JsonObject obj)
        {
            throw new ToncenterException(ToncenterErrorKind.Protocol, method, $"HTTP {status}, answer is not a JSON object", status);
        }

        var ok = obj["ok"] is JsonValue v && v.TryGetValue<bool>(out var b) && b;
        if (!ok || status >= 400)
        {
            var code = obj["code"]?.ToJsonString();
            throw new ToncenterException(ToncenterErrorKind.Api, method, $"{ErrorText(text)}{(code is null ? string.Empty : $" (code {code})")}", status);
        }

        return obj["result"] ?? throw new ToncenterException(ToncenterErrorKind.Protocol, method, "answer has no result", status);
    }

    private static string ErrorText(string text)
    {
        try
        {
            if (JsonNode.Parse(text, documentOptions: StrictJson) is JsonObject o && o["error"] is JsonValue e && e.TryGetValue<string>(out var s))
            {
                return s;
            }
        }
        catch (JsonException)
        {
        }

        return text;
    }

    // Duplicate property names are refused while parsing (a JsonException, so a ToncenterException): JsonObject would
    // otherwise throw an ArgumentException on first lookup, outside the documented failure.
    private static readonly JsonDocumentOptions StrictJson = new() { AllowDuplicateProperties = false };

    private static string Shorten(string s) => s.Length <= 200 ? s : s[..200] + "…";

    private static T Decode<T>(string method, Func<T> decode)
    {
        try
        {
            return decode();
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or JsonException or OverflowException or ArgumentException or KeyNotFoundException)
        {
            throw new ToncenterException(ToncenterErrorKind.Protocol, method, $"unexpected result shape: {e.Message}", null, e);
        }
    }

    internal static BigInteger ReadBig(JsonNode? node) => node switch
    {
        null => BigInteger.Zero,
        JsonValue v when v.TryGetValue<string>(out var s) => ParseNumber(s),
        JsonValue v when v.TryGetValue<long>(out var l) => l,
        _ => throw new FormatException($"not a number: {node.ToJsonString()}"),
    };

    private static long ReadLong(JsonNode? node) => (long)ReadBig(node);

    private static int ReadInt(JsonNode? node) => (int)ReadBig(node);

    internal static BigInteger ParseNumber(string s)
    {
        s = s.Trim();
        var negative = s.StartsWith('-');
        if (negative)
        {
            s = s[1..];
        }

        BigInteger v = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? BigInteger.Parse("0" + s[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture)
            : BigInteger.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture);
        return negative ? -v : v;
    }

    private static Cell? ReadBoc(JsonNode? node)
    {
        var s = node?.GetValue<string>();
        return string.IsNullOrEmpty(s) ? null : BagOfCells.ParseBase64(s);
    }

    private static TransactionId? ReadTransactionId(JsonNode? node)
    {
        if (node is null)
        {
            return null;
        }

        var lt = (ulong)ReadBig(node["lt"]);
        var hash = node["hash"]?.GetValue<string>() ?? string.Empty;
        return new TransactionId(lt, hash.Length == 0 ? [] : Convert.FromBase64String(hash));
    }

    private static TransactionMessage ReadMessage(JsonNode m) => new(
        m["source"]?.GetValue<string>() ?? string.Empty,
        m["destination"]?.GetValue<string>() ?? string.Empty,
        ReadBig(m["value"]),
        m["hash"]?.GetValue<string>(),
        m["message"]?.GetValue<string>());
}

/// <summary>A transaction id: logical time and the transaction hash.</summary>
public sealed record TransactionId(ulong Lt, byte[] Hash);

/// <summary>Answer of <c>runGetMethod</c>.</summary>
public sealed record RunGetMethodResult(int ExitCode, long GasUsed, IReadOnlyList<TvmStackEntry> Stack);

/// <summary>Answer of <c>getAddressInformation</c>.</summary>
public sealed record AddressInformation(BigInteger Balance, string State, Cell? Code, Cell? Data, TransactionId? LastTransaction, long SyncUtime);

/// <summary>Answer of <c>getWalletInformation</c>.</summary>
public sealed record WalletInformation(bool IsWallet, BigInteger Balance, string AccountState, string? WalletType, long? Seqno, long? WalletId, TransactionId? LastTransaction);

/// <summary>A message of a transaction as toncenter v2 lists it (<c>hash</c> is base64; <c>message</c> is a text comment if any).</summary>
public sealed record TransactionMessage(string Source, string Destination, BigInteger Value, string? Hash, string? Comment);

/// <summary>A transaction as toncenter v2 lists it; <see cref="Data"/> is the raw transaction cell.</summary>
public sealed record TonTransaction(TransactionId Id, long Utime, BigInteger Fee, Cell? Data, TransactionMessage? InMessage, IReadOnlyList<TransactionMessage> OutMessages);
