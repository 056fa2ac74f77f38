using Cocoon.Abstractions;
using Cocoon.Abstractions.Inference;
using Cocoon.Abstractions.Pricing;
using Cocoon.Abstractions.Receipts;
using Cocoon.Abstractions.Telemetry;
using Cocoon.Inference;
using Cocoon.Inference.Embeddings;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Concurrency;

namespace Cocoon.Grains.Inference;

/// <summary>
/// Runs requests on this silo's engine for one worker; see <see cref="IInferenceHostGrain"/>. Reentrant: the engine
/// batches and bounds concurrency itself, so calls must not queue behind each other here.
/// </summary>
[WorkerSilo, Reentrant]
public sealed partial class InferenceHostGrain(LocalWorkers workers, ILocalSiloDetails silo, IServiceProvider services) : Grain, IInferenceHostGrain
{
    private readonly ReceiptSigner? _receipts = services.GetService<ReceiptSigner>();
    private readonly PriceList? _prices = services.GetService<PriceList>();
    private LocalWorker _worker = null!;

    /// <inheritdoc />
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Placement put us on the silo the lease names; refuse if the worker is not actually here (a stale lease).
        if (!workers.TryGet(this.GetPrimaryKeyString(), out _worker))
        {
            throw new CocoonApiException(503, "worker_unavailable",
                $"Worker {this.GetPrimaryKeyString()} does not run on silo {silo.SiloAddress}.");
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task<EmbeddingResponse> EmbedAsync(EmbeddingRequest request, CancellationToken cancellationToken = default)
    {
        if (request.Model != _worker.Registration.Model)
        {
            throw new CocoonApiException(400, "model_not_served", $"Worker {_worker.WorkerId} serves {_worker.Registration.Model}, not {request.Model}.", "model");
        }

        if (_worker.Embeddings is not { } embeddings)
        {
            throw new CocoonApiException(400, "model_not_served", $"Worker {_worker.WorkerId} does not serve embeddings.", "model");
        }

        using var inference = CocoonTelemetry.StartInference(_worker.Registration.Model, _worker.WorkerId);
        try
        {
            var result = await embeddings.EmbedAsync(request.Inputs, new EmbeddingOptions { Truncate = request.Truncate }, cancellationToken);
            var receipt = Receipt("embeddings", request.Coefficient,
                ReceiptHashes.EmbeddingsRequest(request.Model, request.Inputs, request.Truncate), ReceiptHashes.EmbeddingsResponse(result.Vectors),
                result.TokenCounts.Sum(n => (long)n), 0);
            return new EmbeddingResponse { Vectors = result.Vectors, TokenCounts = result.TokenCounts, WorkerId = _worker.WorkerId, Receipt = receipt };
        }
        catch (InferenceException e)
        {
            throw e.Code switch
            {
                InferenceErrorCodes.EmptyInput or InferenceErrorCodes.InputTooLong or InferenceErrorCodes.InvalidRequest =>
                    new CocoonApiException(400, e.Code, e.Message, e.Param ?? "input"),
                InferenceErrorCodes.Overloaded or InferenceErrorCodes.EngineStopped =>
                    new CocoonApiException(503, e.Code, $"Worker {_worker.WorkerId} cannot take the request now ({e.Code}); retry."),
                _ => new CocoonApiException(500, "inference_failed", $"Inference failed on worker {_worker.WorkerId} ({e.Code})."),
            };
        }
    }

    /// <summary>
    /// The signed receipt of a request this worker ran: hashes, usage, and the price at the coefficient the proxy
    /// charges (its request says; else this worker's own). Null on a silo without a receipt key.
    /// </summary>
    private InferenceReceipt? Receipt(string kind, long coefficient, string requestHash, string responseHash, long promptTokens, long completionTokens)
    {
        if (_receipts is null || _prices is null)
        {
            return null;
        }

        var charged = coefficient > 0 ? coefficient : _worker.Registration.Coefficient;
        var cost = Pricing.Cost(new TokenUsage { PromptTokens = promptTokens, CompletionTokens = completionTokens }, charged, _prices);
        return _receipts.Sign(new InferenceReceipt
        {
            WorkerId = _worker.WorkerId,
            Model = _worker.Registration.Model,
            ModelHash = _worker.Registration.ModelHash,
            Kind = kind,
            RequestHash = requestHash,
            ResponseHash = responseHash,
            PromptTokens = promptTokens,
            CompletionTokens = completionTokens,
            Coefficient = charged,
            PricePerToken = _prices.PricePerToken,
            AdjustedTokens = cost.AdjustedTokens,
            CostNanoTon = cost.ClientNanoTon,
            IssuedAt = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            WorkerKey = _receipts.PublicKeyHex,
        });
    }
}
