using Cocoon.Abstractions.Inference;
using Cocoon.Abstractions.Telemetry;

namespace Cocoon.Grains.Telemetry;

/// <summary>
/// Measures every unary request of <see cref="IInferenceServiceGrain"/> (DESIGN section 10): a
/// <see cref="RequestTelemetry"/> is current while the grain runs it (so the pipeline can name the model once it is
/// found deployed), and the outcome is recorded from the answer or the exception: status, worker, tokens, duration.
/// </summary>
/// <remarks>
/// A filter rather than code in the pipeline, so every return and throw of the grain is counted. Only the answer's
/// worker id and token counts are read, never the request's inputs or the vectors.
/// </remarks>
public sealed class RequestTelemetryFilter : IIncomingGrainCallFilter
{
    /// <inheritdoc />
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        var operation = OperationOf(context);
        if (operation is null)
        {
            await context.Invoke();
            return;
        }

        using var request = RequestTelemetry.Start(operation);
        var outer = RequestTelemetry.Current;
        RequestTelemetry.Current = request;
        try
        {
            await context.Invoke();
            switch (context.Result)
            {
                case PaidEmbeddingResponse embeddings:
                    request.SetWorker(embeddings.Result.WorkerId);
                    request.Complete(embeddings.PromptTokens);
                    break;
                default:
                    request.Complete(0);
                    break;
            }
        }
        catch (Exception e)
        {
            request.Fail(e);
            throw;
        }
        finally
        {
            RequestTelemetry.Current = outer;
        }
    }

    // The unary request methods of the service grain; streaming ones measure themselves (RequestTelemetry.Start).
    private static string? OperationOf(IIncomingGrainCallContext context) =>
        context.InterfaceMethod?.DeclaringType == typeof(IInferenceServiceGrain)
            ? context.InterfaceMethod.Name switch
            {
                nameof(IInferenceServiceGrain.EmbedAsync) => CocoonTelemetry.Operations.Embeddings,
                _ => null,
            }
            : null;
}
