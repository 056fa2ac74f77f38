using System.Runtime.CompilerServices;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Inference;
using Cocoon.Abstractions.Receipts;
using Cocoon.Abstractions.Models;
using Cocoon.Abstractions.Pricing;
using Cocoon.Abstractions.Telemetry;
using Cocoon.Grains.Telemetry;
using Cocoon.Abstractions.Workers;
using Microsoft.Extensions.Logging;

namespace Cocoon.Grains.Inference;

/// <summary>
/// Chat and completions (DESIGN section 4): the embeddings pipeline, streamed. The worst case (prompt plus the completion
/// budget, at the highest coefficient a retry could land on) is reserved once the worker has counted the prompt and before
/// it generates anything; a failure before the first token is retried once on another worker; when the stream ends, fails
/// or is disposed, the account is charged for the prompt and the completion tokens of the chunks the caller took, and
/// nothing at all when it took none.
/// </summary>
public sealed partial class InferenceServiceGrain
{
    // Long generations must not outlive their reservation; an unsettled one still expires by reminder.

    /// <inheritdoc />
    public IAsyncEnumerable<PaidGenerationChunk> ChatAsync(string apiKey, GenerationRequest request, CancellationToken cancellationToken = default) =>
        GenerationTelemetry.MeasureAsync(GenerateAsync(apiKey, request, chat: true, cancellationToken), CocoonTelemetry.Operations.Chat, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<PaidGenerationChunk> CompleteAsync(string apiKey, GenerationRequest request, CancellationToken cancellationToken = default) =>
        GenerationTelemetry.MeasureAsync(GenerateAsync(apiKey, request, chat: false, cancellationToken), CocoonTelemetry.Operations.Completions, cancellationToken);

    private async IAsyncEnumerable<PaidGenerationChunk> GenerateAsync(
        string apiKey, GenerationRequest request, bool chat, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var account = await AuthenticateAsync(apiKey);
        Validate(request, chat);
        var routes = await GetRoutesAsync(request.Model);
        RequireServable(request.Model, routes, ModelKind.TextGeneration);
        RequestTelemetry.Current?.SetModel(request.Model);
        var cap = request.MaxCoefficient ?? long.MaxValue;
        var eligible = routes.Workers.Where(w => w.Registration.Coefficient <= cap).ToList();
        var worker = PickWorker(eligible, exclude: null) ?? throw NoWorker(request.Model, routes.Workers.Count > 0 && request.MaxCoefficient is not null);
        var reserveCoefficient = eligible.Max(w => w.Registration.Coefficient);
        var requestId = "req_" + Guid.NewGuid().ToString("N");
        var escrow = GrainFactory.GetGrain<IEscrowAccountGrain>(account.AccountId);

        IAsyncEnumerator<TextGenerationChunk>? stream = null;
        IDisposable? running = null;
        var reserved = false;
        var settled = false;
        var taken = false;
        var promptTokens = 0;
        var delivered = 0;
        var attempts = 0;
        long started = 0;
        try
        {
            TextGenerationChunk chunk;
            while (true)
            {
                attempts++;
                Exception? failure;
                try
                {
                    running = load.Start(worker.WorkerId);
                    started = System.Diagnostics.Stopwatch.GetTimestamp();
                    stream = await OpenAsync(worker, request, cancellationToken);
                    var header = stream.Current;
                    promptTokens = header.PromptTokens;
                    if (!reserved)
                    {
                        var worstCase = Pricing.Cost(new TokenUsage { PromptTokens = header.PromptTokens, CompletionTokens = header.MaxTokens }, reserveCoefficient, prices);
                        await HoldKeyAsync(account, apiKey, requestId, worstCase.ClientNanoTon, reservations.Generation);
                        try
                        {
                            await escrow.ReserveAsync(requestId, worstCase.ClientNanoTon, reservations.Generation);
                        }
                        catch
                        {
                            await ReleaseKeyHoldAsync(account, apiKey, requestId);
                            throw;
                        }

                        reserved = true;
                    }

                    chunk = await NextAsync(stream);
                    break;
                }
                catch (Exception e)
                {
                    failure = e;
                }

                await DisposeQuietlyAsync(stream);
                stream = null;
                running?.Dispose();
                running = null;
                if (failure is InsufficientBalanceException shortfall)
                {
                    throw new CocoonApiException(402, "insufficient_quota", shortfall.Message);
                }

                var classified = Classify(failure, worker);
                if (classified.WorkerFault)
                {
                    load.RecordFailure(worker.WorkerId);
                    _routes.Remove(request.Model);
                }

                // DESIGN section 4: a worker failure before the first token is retried once on another worker.
                var next = classified.WorkerFault && attempts == 1 ? PickWorker(eligible, exclude: worker.WorkerId) : null;
                if (next is null)
                {
                    throw classified.Error;
                }

                worker = next;
            }

            var first = true;
            InferenceReceipt? receipt = null;
            while (true)
            {
                yield return new PaidGenerationChunk { Text = chunk.Text, FinishReason = chunk.FinishReason, RequestId = first ? requestId : null, Receipt = chunk.Receipt };

                // The caller asked for more, so it has the chunk: from here on it pays for it.
                first = false;
                taken = true;
                delivered = chunk.CompletionTokens;
                if (chunk.FinishReason is not null)
                {
                    receipt = chunk.Receipt;
                    break;
                }

                chunk = await NextAfterFirstTokenAsync(stream, worker);
            }

            // Routing's latency figure: time per generated token over the whole stream.
            load.Health.RecordSuccess(worker.WorkerId, System.Diagnostics.Stopwatch.GetElapsedTime(started), delivered);
            var usage = await SettleAsync(escrow, apiKey, requestId, worker, promptTokens, delivered, attempts);
            settled = true;
            yield return new PaidGenerationChunk { Usage = usage, Receipt = receipt };
        }
        finally
        {
            await DisposeQuietlyAsync(stream);
            running?.Dispose();
            if (reserved && !settled)
            {
                await SettleOrReleaseAsync(escrow, account, apiKey, requestId, worker, promptTokens, taken ? delivered : null, attempts);
            }
        }
    }

    private static void Validate(GenerationRequest request, bool chat)
    {
        if (chat ? request.Messages is not { Count: > 0 } : request.Prompt is null)
        {
            throw chat
                ? new CocoonApiException(400, "invalid_value", "'messages' must be a non-empty array.", "messages")
                : new CocoonApiException(400, "missing_required_parameter", "You must provide a prompt parameter.", "prompt");
        }

        if (chat ? request.Prompt is not null : request.Messages is not null)
        {
            throw new CocoonApiException(400, "invalid_request", "A request has either messages (chat) or a prompt (completions), not both.", chat ? "prompt" : "messages");
        }

        if (request.MaxTokens is < 1)
        {
            throw new CocoonApiException(400, "invalid_value", "'max_tokens' must be at least 1.", "max_tokens");
        }

        if (request.Stop.Count > GenerationRequest.MaxStopSequences || request.Stop.Any(s => s.Length == 0))
        {
            throw new CocoonApiException(400, "invalid_value", $"'stop' holds at most {GenerationRequest.MaxStopSequences} non-empty strings.", "stop");
        }
    }

    // Starts the stream on the worker's silo and reads its first chunk: the prompt's size, before anything is generated.
    private async Task<IAsyncEnumerator<TextGenerationChunk>> OpenAsync(WorkerLease worker, GenerationRequest request, CancellationToken cancellationToken)
    {
        RequestTelemetry.Current?.SetWorker(worker.WorkerId);
        RequestContext.Set(WorkerSiloPlacement.SiloKey, worker.Registration.SiloAddress);
        IAsyncEnumerator<TextGenerationChunk>? stream = null;
        try
        {
            stream = GrainFactory.GetGrain<IInferenceHostGrain>(worker.WorkerId)
                .GenerateAsync(request with { Coefficient = worker.Registration.Coefficient }, cancellationToken).GetAsyncEnumerator(cancellationToken);
            if (!await stream.MoveNextAsync())
            {
                throw new InvalidOperationException("The worker's stream ended before its first chunk.");
            }

            return stream;
        }
        catch
        {
            await DisposeQuietlyAsync(stream);
            throw;
        }
        finally
        {
            RequestContext.Remove(WorkerSiloPlacement.SiloKey);
        }
    }

    private static async Task<TextGenerationChunk> NextAsync(IAsyncEnumerator<TextGenerationChunk> stream) =>
        await stream.MoveNextAsync() ? stream.Current : throw new InvalidOperationException("The worker's stream ended without a finish reason.");

    // After the first token a failure is the caller's error (no retry: it has text already), mapped like any other.
    private async Task<TextGenerationChunk> NextAfterFirstTokenAsync(IAsyncEnumerator<TextGenerationChunk>? stream, WorkerLease worker)
    {
        try
        {
            return await NextAsync(stream!);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var classified = Classify(e, worker);
            if (classified.WorkerFault)
            {
                load.RecordFailure(worker.WorkerId);
            }

            throw classified.Error;
        }
    }

    private async Task<GenerationUsage> SettleAsync(IEscrowAccountGrain escrow, string apiKey, string requestId, WorkerLease worker, int promptTokens, int completionTokens, int attempts)
    {
        var cost = Pricing.Cost(new TokenUsage { PromptTokens = promptTokens, CompletionTokens = completionTokens }, worker.Registration.Coefficient, prices);
        var settlement = await SettleIdempotentlyAsync(escrow, requestId, cost.ClientNanoTon, worker.WorkerId, CancellationToken.None);
        await RecordKeyChargeAsync(apiKey, requestId, settlement.ChargedNanoTon);
        return new GenerationUsage
        {
            RequestId = requestId,
            WorkerId = worker.WorkerId,
            PromptTokens = promptTokens,
            CompletionTokens = completionTokens,
            CostNanoTon = settlement.ChargedNanoTon,
            AvailableNanoTon = settlement.Balance.Available,
            Attempts = attempts,
        };
    }

    // The stream stopped early (the caller left, cancelled, or the worker failed): charge what the caller took, if anything.
    private async Task SettleOrReleaseAsync(IEscrowAccountGrain escrow, ApiKeyInfo account, string apiKey, string requestId, WorkerLease worker, int promptTokens, int? completionTokens, int attempts)
    {
        try
        {
            if (completionTokens is { } taken)
            {
                await SettleAsync(escrow, apiKey, requestId, worker, promptTokens, taken, attempts);
            }
            else
            {
                await escrow.ReleaseAsync(requestId);
                await ReleaseKeyHoldAsync(account, apiKey, requestId);
            }
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or CocoonApiException)
        {
            // The reservation expires by reminder (nothing charged); say so without anything of the request.
            LogSettleFailed(requestId, e.GetType().Name);
        }
    }

    private static async ValueTask DisposeQuietlyAsync(IAsyncEnumerator<TextGenerationChunk>? stream)
    {
        if (stream is null)
        {
            return;
        }

        try
        {
            await stream.DisposeAsync();
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or OperationCanceledException or ObjectDisposedException)
        {
            // The worker or its silo is gone: its enumerator is dropped there by Orleans's own expiry.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Generation request {RequestId} could not be settled ({Error}); its reservation expires unsettled")]
    private partial void LogSettleFailed(string requestId, string error);
}
