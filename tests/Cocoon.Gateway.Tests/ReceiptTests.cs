using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Receipts;
using Cocoon.Client;
using Cocoon.Inference.Models;
using Cocoon.Testing;
using Cocoon.Ton.Crypto;

namespace Cocoon.Gateway.Tests;

/// <summary>
/// A devnet silo with both roles (simulated quotes, so its worker is attested): every answer carries the worker's
/// signed receipt, which verifies back to the worker's quote.
/// </summary>
public sealed class ReceiptDevnet : IAsyncLifetime
{
    private readonly string _models = Directory.CreateTempSubdirectory("cocoon-receipt-models-").FullName;

    public CocoonTestNode Node { get; private set; } = null!;

    public Uri Gateway => Node.GatewayUrl!;

    public async ValueTask InitializeAsync()
    {
        Node = await CocoonTestNode.StartAsync("rcpt-" + Guid.NewGuid().ToString("N")[..8], "proxy,worker", null, "receipts",
            extra: new Dictionary<string, string?>
            {
                ["Cocoon:Worker:Models"] = BuiltInModels.MiniLmName + "," + BuiltInModels.TinyLmName,
                ["Cocoon:Worker:ModelsDirectory"] = _models,
                ["Cocoon:Worker:ExecutionProvider"] = "Cpu",
                ["Cocoon:Worker:AutoDeploy"] = "true",
            });
    }

    public async Task<string> FundedKeyAsync()
    {
        var accountId = "rcpt-" + Guid.NewGuid().ToString("N")[..12];
        var apiKey = ApiKeys.Generate();
        await Node.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(apiKey)).CreateAsync(accountId, "receipts");
        await Node.Grains.GetGrain<IEscrowAccountGrain>(accountId).DepositAsync("grant", 1_000_000_000);
        return apiKey;
    }

    public async ValueTask DisposeAsync()
    {
        if (Node is not null)
        {
            await Node.DisposeAsync();
        }

        try
        {
            Directory.Delete(_models, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

public sealed class ReceiptTests(ReceiptDevnet devnet, GatewayCluster cluster) : IClassFixture<ReceiptDevnet>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly GatewayAttestationOptions Devnet = new() { Devnet = true };

    private static async Task<(JsonElement Body, string? Header)> PostAsync(Uri gateway, string apiKey, string path, object body)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway, path)) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        using var response = await http.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.IsSuccessStatusCode, text);
        var header = response.Headers.TryGetValues("Cocoon-Receipt", out var values) ? values.Single() : null;
        return (JsonDocument.Parse(text).RootElement.Clone(), header);
    }

    [Fact]
    public async Task An_embeddings_answer_carries_a_receipt_that_verifies_to_the_workers_attested_key()
    {
        var apiKey = await devnet.FundedKeyAsync();
        string[] inputs = ["receipts are signed", "by the worker's attested key"];
        var (body, header) = await PostAsync(devnet.Gateway, apiKey, "/v1/embeddings", new { model = BuiltInModels.MiniLmName, input = inputs });

        Assert.NotNull(header);
        var receipt = InferenceReceipt.Parse(header);
        Assert.Equal(receipt, InferenceReceipt.FromJson(body.GetProperty("cocoon_receipt")));
        Assert.Equal(body.GetProperty("cocoon").GetProperty("worker").GetString(), receipt.WorkerId);
        Assert.Equal("embeddings", receipt.Kind);
        Assert.Equal(ReceiptHashes.EmbeddingsRequest(BuiltInModels.MiniLmName, inputs, truncate: false), receipt.RequestHash);
        Assert.Equal(ReceiptVerifier.ResponseHashOf(body), receipt.ResponseHash);
        Assert.Equal(body.GetProperty("usage").GetProperty("prompt_tokens").GetInt64(), receipt.PromptTokens);
        Assert.Equal(body.GetProperty("cocoon").GetProperty("cost_nanoton").GetInt64(), receipt.CostNanoTon);
        Assert.Equal(BuiltInModels.MiniLmOnnxSha256, receipt.ModelHash);

        var result = await ReceiptVerifier.VerifyAsync(devnet.Gateway, receipt, Devnet, ReceiptVerifier.ResponseHashOf(body), cancellationToken: Ct);
        Assert.True(result.IsValid, result.Message);
        Assert.True(result.ResponseChecked);
        Assert.True(result.Attestation!.IsSimulated);

        // Base64 embeddings hash to the same bytes.
        var (base64Body, base64Header) = await PostAsync(devnet.Gateway, apiKey, "/v1/embeddings", new { model = BuiltInModels.MiniLmName, input = inputs, encoding_format = "base64" });
        Assert.Equal(ReceiptVerifier.ResponseHashOf(base64Body), InferenceReceipt.Parse(base64Header!).ResponseHash);
    }

    [Fact]
    public async Task Chat_and_completions_answers_carry_receipts_over_their_text_and_usage()
    {
        var apiKey = await devnet.FundedKeyAsync();
        var (chat, chatHeader) = await PostAsync(devnet.Gateway, apiKey, "/v1/chat/completions",
            new { model = BuiltInModels.TinyLmName, messages = new[] { new { role = "user", content = "Say something." } }, max_tokens = 8, seed = 7 });
        var (completion, completionHeader) = await PostAsync(devnet.Gateway, apiKey, "/v1/completions",
            new { model = BuiltInModels.TinyLmName, prompt = "Once upon a time", max_tokens = 8, seed = 7 });

        foreach (var (body, header) in new[] { (chat, chatHeader), (completion, completionHeader) })
        {
            var receipt = InferenceReceipt.Parse(header!);
            Assert.Equal(receipt, InferenceReceipt.FromJson(body.GetProperty("cocoon_receipt")));
            Assert.Equal("generation", receipt.Kind);
            Assert.Equal(body.GetProperty("usage").GetProperty("prompt_tokens").GetInt64(), receipt.PromptTokens);
            Assert.Equal(body.GetProperty("usage").GetProperty("completion_tokens").GetInt64(), receipt.CompletionTokens);
            Assert.Equal(body.GetProperty("cocoon").GetProperty("cost_nanoton").GetInt64(), receipt.CostNanoTon);
            var result = await ReceiptVerifier.VerifyAsync(devnet.Gateway, receipt, Devnet, ReceiptVerifier.ResponseHashOf(body), cancellationToken: Ct);
            Assert.True(result.IsValid, result.Message);
        }
    }

    [Fact]
    public async Task A_streamed_chat_carries_the_receipt_in_its_finishing_chunk_over_the_whole_text()
    {
        var apiKey = await devnet.FundedKeyAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(devnet.Gateway, "/v1/chat/completions"))
        {
            Content = JsonContent.Create(new { model = BuiltInModels.TinyLmName, messages = new[] { new { role = "user", content = "Count." } }, max_tokens = 12, stream = true }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        var events = (await response.Content.ReadAsStringAsync(Ct)).Split('\n')
            .Where(l => l.StartsWith("data: ", StringComparison.Ordinal) && l != "data: [DONE]")
            .Select(l => JsonDocument.Parse(l["data: ".Length..]).RootElement.Clone()).ToList();

        var text = new StringBuilder();
        foreach (var e in events)
        {
            foreach (var choice in e.GetProperty("choices").EnumerateArray())
            {
                if (choice.GetProperty("delta").TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
                {
                    text.Append(content.GetString());
                }
            }
        }

        // The finishing chunk (the last one without include_usage) carries it, over the whole text.
        var last = events[^1];
        Assert.NotEqual(JsonValueKind.Null, last.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind);
        var receipt = InferenceReceipt.FromJson(last.GetProperty("cocoon_receipt"));
        Assert.Single(events, e => e.TryGetProperty("cocoon_receipt", out _));
        var result = await ReceiptVerifier.VerifyAsync(devnet.Gateway, receipt, Devnet, ReceiptHashes.GenerationResponse(text.ToString()), cancellationToken: Ct);
        Assert.True(result.IsValid, result.Message);
    }

    [Fact]
    public async Task A_tampered_receipt_another_response_another_key_or_production_policy_each_fail_at_their_check()
    {
        var apiKey = await devnet.FundedKeyAsync();
        var (body, header) = await PostAsync(devnet.Gateway, apiKey, "/v1/embeddings", new { model = BuiltInModels.MiniLmName, input = "tamper" });
        var receipt = InferenceReceipt.Parse(header!);
        var responseHash = ReceiptVerifier.ResponseHashOf(body);
        Assert.True((await ReceiptVerifier.VerifyAsync(devnet.Gateway, receipt, Devnet, responseHash, cancellationToken: Ct)).IsValid);

        // A changed field (here the cost) no longer matches the signature.
        var cheaper = receipt with { CostNanoTon = receipt.CostNanoTon - 1 };
        Assert.Equal(ReceiptCheck.Signature, (await ReceiptVerifier.VerifyAsync(devnet.Gateway, cheaper, Devnet, cancellationToken: Ct)).FailedCheck);

        // A flipped signature byte.
        var signature = receipt.SignatureBytes();
        signature[5] ^= 0x01;
        var flipped = receipt with { Signature = Convert.ToHexStringLower(signature) };
        Assert.Equal(ReceiptCheck.Signature, (await ReceiptVerifier.VerifyAsync(devnet.Gateway, flipped, Devnet, cancellationToken: Ct)).FailedCheck);

        // Another response.
        var other = ReceiptHashes.GenerationResponse("not this answer");
        Assert.Equal(ReceiptCheck.Response, (await ReceiptVerifier.VerifyAsync(devnet.Gateway, receipt, Devnet, other, cancellationToken: Ct)).FailedCheck);

        // Re-signed by a key that is not the worker's attested one: the signature is fine, the binding is not.
        using var forger = Ed25519KeyPair.Generate();
        var forged = receipt with { WorkerKey = Convert.ToHexStringLower(forger.PublicKey), Signature = "" };
        forged = forged with { Signature = Convert.ToHexStringLower(forger.Sign(forged.SignedBytes())) };
        Assert.True(ReceiptVerifier.SignatureIsValid(forged));
        var binding = await ReceiptVerifier.VerifyAsync(devnet.Gateway, forged, Devnet, cancellationToken: Ct);
        Assert.Equal(ReceiptCheck.KeyBinding, binding.FailedCheck);
        Assert.Contains(receipt.WorkerKey, binding.Message, StringComparison.Ordinal);

        // Production policy: the devnet worker's quote is simulated.
        var production = await ReceiptVerifier.VerifyAsync(devnet.Gateway, receipt, new GatewayAttestationOptions(), responseHash, cancellationToken: Ct);
        Assert.Equal(ReceiptCheck.WorkerAttestation, production.FailedCheck);

        // A worker the gateway does not know.
        var unknown = await ReceiptVerifier.VerifyAsync(devnet.Gateway, receipt with { WorkerId = "nobody" }, Devnet, cancellationToken: Ct);
        Assert.Equal(ReceiptCheck.Signature, unknown.FailedCheck); // the worker id is signed too
        var stranger = forged with { WorkerId = "nobody", Signature = "" };
        stranger = stranger with { Signature = Convert.ToHexStringLower(forger.Sign(stranger.SignedBytes())) };
        var notFound = await ReceiptVerifier.VerifyAsync(devnet.Gateway, stranger, Devnet, cancellationToken: Ct);
        Assert.Equal(ReceiptCheck.WorkerAttestation, notFound.FailedCheck);
        Assert.Contains("404", notFound.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_worker_without_attestation_signs_receipts_that_do_not_verify_as_attested()
    {
        var (apiKey, _) = await cluster.CreateFundedKeyAsync();
        var (body, header) = await PostAsync(cluster.Gateway, apiKey, "/v1/embeddings", new { model = GatewayCluster.Model, input = "unattested worker" });
        var receipt = InferenceReceipt.Parse(header!);
        Assert.True(ReceiptVerifier.SignatureIsValid(receipt));

        var result = await ReceiptVerifier.VerifyAsync(cluster.Gateway, receipt, Devnet, ReceiptVerifier.ResponseHashOf(body), cancellationToken: Ct);

        Assert.Equal(ReceiptCheck.WorkerAttestation, result.FailedCheck);
        Assert.Contains("without attestation", result.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not base64 at all!")]
    [InlineData("e30")] // {}
    [InlineData("{\"version\":2}")]
    [InlineData("{\"version\":4294967297}")] // 1 in 32 bits: not version 1
    public void Malformed_receipts_are_refused_with_a_format_error(string text)
    {
        Assert.Throws<FormatException>(() => InferenceReceipt.Parse(text));
        Assert.False(InferenceReceipt.TryParse(text, out var receipt, out var error));
        Assert.Null(receipt);
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"object\":\"list\"}")]
    [InlineData("{\"object\":\"list\",\"data\":[{\"embedding\":\"AAA=\"}]}")]
    [InlineData("{\"object\":\"chat.completion\",\"choices\":[]}")]
    [InlineData("{\"object\":\"model\"}")]
    public void A_response_that_is_not_a_complete_answer_is_a_format_error(string json)
    {
        using var document = JsonDocument.Parse(json);
        Assert.Throws<FormatException>(() => ReceiptVerifier.ResponseHashOf(document.RootElement));
    }
}
