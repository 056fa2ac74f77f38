using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Receipts;
using Cocoon.Attestation.RaTls;
using Cocoon.Client;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Contracts;
using Cocoon.Ton.Toncenter;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Cocoon.Gateway.Fuzz;

/// <summary>
/// What a network peer can feed the gateway, each with its contract: a request body parses or is refused with a 4xx
/// <see cref="CocoonApiException"/> (never another exception: that would be a 500 or a crashed request); a receipt
/// parses, or is a <see cref="FormatException"/>, and a parsed one writes and reads back to itself; a toncenter answer
/// is a value or a <see cref="ToncenterException"/>; an <c>Authorization</c> header is a key or a 401; an attestation
/// document parses or is a <see cref="FormatException"/>. Shared by the fuzz executable and the corpus replay test in
/// Cocoon.Gateway.Tests.
/// </summary>
public static class GatewayFuzzTargets
{
    /// <summary>The targets by name.</summary>
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>
    {
        ["body"] = Body,
        ["receipt"] = Receipt,
        ["claims"] = Claims,
        ["toncenter"] = Toncenter,
        ["authorization"] = Authorization,
        ["attestation-doc"] = AttestationDoc,
    };

    private static readonly int[] ToncenterStatuses = [200, 400, 404, 429, 500, 503];

    /// <summary>The first byte picks the endpoint (embeddings, chat, completions); the rest is the body.</summary>
    public static void Body(byte[] data)
    {
        if (data.Length == 0)
        {
            return;
        }

        try
        {
            using var document = RequestBody.ParseObject(data.AsMemory(1));
            var root = document.RootElement;
            _ = (data[0] % 3) switch
            {
                0 => (object)EmbeddingsEndpoint.Parse(root),
                1 => ChatCompletionsEndpoint.Parse(root),
                _ => CompletionsEndpoint.Parse(root),
            };
        }
        catch (CocoonApiException e) when (e.Status is >= 400 and < 500)
        {
            // The documented refusal: the client gets it as an OpenAI error object.
        }
    }

    /// <summary>A receipt as <c>cocoon receipts verify</c> and <c>Cocoon.Client</c> read it.</summary>
    public static void Receipt(byte[] data)
    {
        InferenceReceipt receipt;
        try
        {
            receipt = InferenceReceipt.Parse(Encoding.UTF8.GetString(data));
        }
        catch (FormatException)
        {
            return;
        }

        _ = receipt.SignedBytes();
        if (InferenceReceipt.Parse(receipt.Encode()) != receipt)
        {
            throw new InvalidOperationException("A parsed receipt does not read back to itself.");
        }
    }

    /// <summary>RA-TLS claims as a peer's certificate carries them (silo TLS, the gateway's and workers' attestation).</summary>
    public static void Claims(byte[] data)
    {
        RaTlsClaims claims;
        try
        {
            claims = RaTlsClaims.Parse(data);
        }
        catch (FormatException)
        {
            return;
        }

        if (!claims.ToCanonicalBytes().AsSpan().SequenceEqual(data))
        {
            throw new InvalidOperationException("Parsed claims are not the canonical bytes they came from.");
        }
    }

    /// <summary>
    /// A toncenter v2 answer as <see cref="ToncenterClient"/> reads it from an untrusted endpoint: the first byte picks
    /// the call (<c>% 5</c>: getTransactions, runGetMethod, getAddressInformation, getWalletInformation, sendBoc) and the
    /// HTTP status (<c>/ 5</c>: 200, 400, 404, 429, 500, 503, then 200), the rest is the body. A value or a
    /// <see cref="ToncenterException"/>; the transactions' cells are then read as settlement reads them
    /// (<see cref="TransactionSummary.Parse"/>: a summary or a <see cref="FormatException"/>).
    /// </summary>
    public static void Toncenter(byte[] data)
    {
        if (data.Length == 0)
        {
            return;
        }

        // Parsed here, not in a static initializer: instrumented code must not run before the fork server is up.
        var account = TonAddress.Parse("EQCHx99AEyKVKNUgPqpAASckEwCxQVomAvsttm7kqpUtCj64");
        var index = data[0] / 5;
        var status = index < ToncenterStatuses.Length ? ToncenterStatuses[index] : 200;
        using var http = new HttpClient(new CannedResponse((HttpStatusCode)status, data[1..]));
        var client = new ToncenterClient(http, new ToncenterOptions { Endpoint = new Uri("http://toncenter.invalid/api/v2/"), MaxRetries = 0 });
        IReadOnlyList<TonTransaction> transactions = [];
        try
        {
            switch (data[0] % 5)
            {
                case 0:
                    transactions = client.GetTransactionsAsync(account, 50).GetAwaiter().GetResult();
                    break;
                case 1:
                    _ = client.RunGetMethodAsync(account, "get_params").GetAwaiter().GetResult();
                    break;
                case 2:
                    _ = client.GetAddressInformationAsync(account).GetAwaiter().GetResult();
                    break;
                case 3:
                    _ = client.GetWalletInformationAsync(account).GetAwaiter().GetResult();
                    break;
                default:
                    client.SendBocAsync(new byte[] { 0xb5, 0xee, 0x9c, 0x72 }).GetAwaiter().GetResult();
                    break;
            }
        }
        catch (ToncenterException)
        {
            return;
        }

        foreach (var transaction in transactions)
        {
            if (transaction.Data is { } cell)
            {
                try
                {
                    _ = TransactionSummary.Parse(cell);
                }
                catch (FormatException)
                {
                    // A transaction cell settlement cannot read: the documented refusal.
                }
            }
        }
    }

    /// <summary>
    /// The <c>Authorization</c> header(s) of a gateway request (one value a line, as a client may repeat the header):
    /// a key, trimmed and non-empty, that the gateway then hashes for its grain, or a 401 <see cref="CocoonApiException"/>.
    /// </summary>
    public static void Authorization(byte[] data)
    {
        var context = new DefaultHttpContext();
        context.Request.Headers.Authorization = new StringValues(Encoding.UTF8.GetString(data).Split('\n'));
        string key;
        try
        {
            key = Authentication.BearerKey(context);
            Authentication.RequirePresent(key);
        }
        catch (CocoonApiException e) when (e.Status == 401)
        {
            return;
        }

        if (key.Length == 0 || key.Trim().Length != key.Length || !context.Request.Headers.Authorization.ToString().Contains(key, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"'{key}' is not a trimmed, non-empty key taken from the header.");
        }

        _ = ApiKeys.Hash(key);
    }

    /// <summary>The body of a gateway's <c>GET /v1/attestation</c> as <c>Cocoon.Client</c> reads it.</summary>
    public static void AttestationDoc(byte[] data)
    {
        GatewayAttestationDocument document;
        try
        {
            document = GatewayAttestationDocument.Parse(data);
        }
        catch (FormatException)
        {
            return;
        }

        if (document.Quote is null || document.Claims is null || document.CertificatePem is null)
        {
            throw new InvalidOperationException("A parsed attestation document lacks a required field.");
        }
    }

    /// <summary>Answers every request with the same status and body, as an untrusted toncenter endpoint might.</summary>
    private sealed class CannedResponse(HttpStatusCode status, byte[] body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            return Task.FromResult(new HttpResponseMessage(status) { Content = content, RequestMessage = request });
        }
    }
}
