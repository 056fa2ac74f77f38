using Microsoft.Extensions.DependencyInjection;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Inference;
using Cocoon.Abstractions.Models;
using Cocoon.Abstractions.Pricing;
using Cocoon.Abstractions.Telemetry;
using Cocoon.Abstractions.Workers;
using Cocoon.Grains.Inference.Routing;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;

namespace Cocoon.Grains.Inference;

/// <summary>
/// The request pipeline of DESIGN section 4; see <see cref="IInferenceServiceGrain"/>. Stateless and reentrant, so it
/// runs on whichever silo took the call and many requests interleave in one activation; its route cache is bounded
/// in staleness, so the deployment grains are not on the hot path. One activation per silo: the streaming methods
/// keep their enumerators in the activation that started them, and Orleans sends a stateless worker's later calls
/// (next chunk, cancel, dispose) to any of its activations, so with several a stream would lose its enumerator.
/// </summary>
[StatelessWorker(1), Reentrant]
public sealed partial class InferenceServiceGrain(
    PriceList prices,
    RouteLoad load,
    Escrow.ReservationTimes reservations,
    [FromKeyedServices(CocoonGrainsExtensions.ClockKey)] TimeProvider time,
    ILogger<InferenceServiceGrain> logger) : Grain, IInferenceServiceGrain
{
    private static readonly TimeSpan RouteStaleness = TimeSpan.FromSeconds(2);
    private readonly Dictionary<string, ModelRoutes> _routes = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public async Task<PaidEmbeddingResponse> EmbedAsync(string apiKey, EmbeddingRequest request, CancellationToken cancellationToken = default)
    {
        var account = await AuthenticateAsync(apiKey);
        if (request.Inputs.Count == 0)
        {
            throw new CocoonApiException(400, "empty_input", "'input' must not be empty.", "input");
        }

        if (request.Inputs.Count > EmbeddingRequest.MaxInputs)
        {
            throw new CocoonApiException(400, "too_many_inputs", $"'input' may hold at most {EmbeddingRequest.MaxInputs} items; it has {request.Inputs.Count}.", "input");
        }

        var routes = await GetRoutesAsync(request.Model);
        var deployment = RequireServable(request.Model, routes, ModelKind.Embedding);
        RequestTelemetry.Current?.SetModel(deployment.Name);
        var cap = request.MaxCoefficient ?? long.MaxValue;
        var eligible = routes.Workers.Where(w => w.Registration.Coefficient <= cap).ToList();
        var worker = PickWorker(eligible, exclude: null) ?? throw NoWorker(request.Model, routes.Workers.Count > 0 && request.MaxCoefficient is not null);

        // Worst case: every input at the model's full context, at the highest coefficient a retry could land on; the
        // exact cost is settled after the run.
        var reserveCoefficient = eligible.Max(w => w.Registration.Coefficient);
        var worstCase = Pricing.Cost(new TokenUsage { PromptTokens = checked((long)request.Inputs.Count * deployment.ContextLength) }, reserveCoefficient, prices);
        var requestId = "req_" + Guid.NewGuid().ToString("N");
        var escrow = GrainFactory.GetGrain<IEscrowAccountGrain>(account.AccountId);
        await HoldKeyAsync(account, apiKey, requestId, worstCase.ClientNanoTon, reservations.Embeddings);
        try
        {
            await escrow.ReserveAsync(requestId, worstCase.ClientNanoTon, reservations.Embeddings);
        }
        catch (InsufficientBalanceException e)
        {
            await ReleaseKeyHoldAsync(account, apiKey, requestId);
            throw new CocoonApiException(402, "insufficient_quota", e.Message);
        }
        catch
        {
            await ReleaseKeyHoldAsync(account, apiKey, requestId);
            throw;
        }

        EmbeddingResponse result;
        var attempts = 0;
        while (true)
        {
            attempts++;
            try
            {
                result = await RunOnAsync(worker, request, cancellationToken);
                break;
            }
            catch (Exception e)
            {
                var failure = Classify(e, worker);
                if (failure.WorkerFault)
                {
                    load.RecordFailure(worker.WorkerId);
                    _routes.Remove(request.Model);
                }

                // DESIGN section 4: a worker failure before any answer is retried once on another worker.
                var next = failure.WorkerFault && attempts == 1 ? PickWorker(eligible, exclude: worker.WorkerId) : null;
                if (next is not null)
                {
                    worker = next;
                    continue;
                }

                await escrow.ReleaseAsync(requestId);
                await ReleaseKeyHoldAsync(account, apiKey, requestId);
                throw failure.Error;
            }
        }

        long tokens = 0;
        foreach (var count in result.TokenCounts)
        {
            tokens += count;
        }

        var cost = Pricing.Cost(new TokenUsage { PromptTokens = tokens }, worker.Registration.Coefficient, prices);
        Settlement settlement;
        try
        {
            settlement = await SettleIdempotentlyAsync(escrow, requestId, cost.ClientNanoTon, worker.WorkerId, cancellationToken);
        }
        catch
        {
            // Not charged means not served: the caller gets an error, never an unpaid answer.
            await escrow.ReleaseAsync(requestId);
            await ReleaseKeyHoldAsync(account, apiKey, requestId);
            throw;
        }

        await RecordKeyChargeAsync(apiKey, requestId, settlement.ChargedNanoTon);
        return new PaidEmbeddingResponse
        {
            RequestId = requestId,
            Result = result,
            PromptTokens = tokens,
            CostNanoTon = settlement.ChargedNanoTon,
            AvailableNanoTon = settlement.Balance.Available,
            Attempts = attempts,
        };
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ModelSummary>> ListModelsAsync(string apiKey)
    {
        await AuthenticateAsync(apiKey);
        var names = await GrainFactory.GetGrain<IModelCatalogGrain>(IModelCatalogGrain.Key).ListAsync();
        var models = new List<ModelSummary>(names.Count);
        foreach (var name in names)
        {
            var routes = await GetRoutesAsync(name);
            if (routes.Deployment is { Enabled: true } d)
            {
                models.Add(new ModelSummary(d.Name, d.Kind, d.CreatedAt, routes.Workers.Count, d.ContextLength, d.Dimensions)
                {
                    Workers = [.. routes.Workers.Select(w => new WorkerLoad(w.Registration.Coefficient, load.Running(w.WorkerId), w.Registration.Capacity))],
                });
            }
        }

        return models;
    }

    private async Task<ApiKeyInfo> AuthenticateAsync(string apiKey)
    {
        if (string.IsNullOrEmpty(apiKey))
        {
            throw new CocoonApiException(401, "missing_api_key", "You didn't provide an API key: send it as 'Authorization: Bearer KEY'.");
        }

        return await GrainFactory.GetGrain<IApiKeyGrain>(ApiKeys.Hash(apiKey)).ResolveAsync()
            ?? throw new CocoonApiException(401, "invalid_api_key", "Incorrect API key provided.");
    }

    private async Task<ModelRoutes> GetRoutesAsync(string model)
    {
        if (_routes.TryGetValue(model, out var cached) && time.GetUtcNow() - cached.ReadAt < RouteStaleness)
        {
            return cached;
        }

        var fresh = await GrainFactory.GetGrain<IModelDeploymentGrain>(model).GetRoutesAsync();
        _routes[model] = fresh;
        return fresh;
    }

    private static ModelDeployment RequireServable(string model, ModelRoutes routes, string kind)
    {
        if (routes.Deployment is not { } deployment || !deployment.Enabled)
        {
            throw new CocoonApiException(404, "model_not_found", $"The model '{model}' does not exist or you do not have access to it.", "model");
        }

        if (deployment.Kind != kind)
        {
            throw new CocoonApiException(400, "wrong_model_kind", $"The model '{model}' is a {deployment.Kind} model, not {kind}.", "model");
        }

        return deployment;
    }

    // The filter's last step (leases still live by this silo's clock, not the worker that just failed), then the
    // choice: WorkerSelector weighs each worker's running requests, recent latency and recent failures.
    private WorkerLease? PickWorker(List<WorkerLease> workers, string? exclude)
    {
        using var span = CocoonTelemetry.StartSpan("cocoon.route");
        var now = time.GetUtcNow();
        var live = new List<WorkerLease>(workers.Count);
        var candidates = new List<RouteCandidate>(workers.Count);
        foreach (var lease in workers)
        {
            if (lease.ExpiresAt <= now || lease.WorkerId == exclude)
            {
                continue;
            }

            var (latency, penalty) = load.Health.Get(lease.WorkerId);
            live.Add(lease);
            candidates.Add(new RouteCandidate(lease.WorkerId, load.Running(lease.WorkerId), lease.Registration.Capacity, latency, penalty));
        }

        var index = WorkerSelector.Shared.Select(candidates);
        var best = index < 0 ? null : live[index];
        span?.SetTag(CocoonTelemetry.WorkerTag, best?.WorkerId ?? CocoonTelemetry.None);
        return best;
    }

    private async Task<EmbeddingResponse> RunOnAsync(WorkerLease worker, EmbeddingRequest request, CancellationToken cancellationToken)
    {
        RequestTelemetry.Current?.SetWorker(worker.WorkerId);
        using (load.Start(worker.WorkerId))
        {
            RequestContext.Set(WorkerSiloPlacement.SiloKey, worker.Registration.SiloAddress);
            try
            {
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                var result = await GrainFactory.GetGrain<IInferenceHostGrain>(worker.WorkerId)
                    .EmbedAsync(request with { Coefficient = worker.Registration.Coefficient }, cancellationToken);
                load.Health.RecordSuccess(worker.WorkerId, System.Diagnostics.Stopwatch.GetElapsedTime(started), result.TokenCounts.Sum(n => (long)n));
                return result;
            }
            finally
            {
                RequestContext.Remove(WorkerSiloPlacement.SiloKey);
            }
        }
    }

    // Whether a failure is the worker's (gone, refusing, overloaded: worth another worker) or the request's own.
    private (bool WorkerFault, Exception Error) Classify(Exception e, WorkerLease worker)
    {
        switch (e)
        {
            case OperationCanceledException:
                return (false, e);
            case CocoonApiException { Status: 503 }:
                return (true, e);
            case CocoonApiException:
                return (false, e);
            case SiloUnavailableException or OrleansMessageRejectionException or TimeoutException:
                return (true, new CocoonApiException(503, "worker_unavailable", $"Worker {worker.WorkerId} is unavailable; retry."));
            default:
                // The type and the worker only: an exception's message could quote the request.
                LogWorkerFailure(worker.WorkerId, e.GetType().FullName ?? e.GetType().Name);
                return (true, new CocoonApiException(500, "inference_failed", $"The request failed on worker {worker.WorkerId}."));
        }
    }

    private static CocoonApiException NoWorker(string model, bool capped) => capped
        ? new(503, "no_worker_available", $"No worker serving '{model}' is within the requested max_coefficient right now; raise it or retry.", "max_coefficient")
        : new(503, "no_worker_available", $"No worker is serving '{model}' right now; retry shortly.", "model");

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request failed on worker {WorkerId} with {ExceptionType}; its reservation was released")]
    private partial void LogWorkerFailure(string workerId, string exceptionType);

}
