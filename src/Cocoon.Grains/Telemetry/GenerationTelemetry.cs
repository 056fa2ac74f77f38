using System.Runtime.CompilerServices;
using Cocoon.Abstractions.Inference;
using Cocoon.Abstractions.Telemetry;

namespace Cocoon.Grains.Telemetry;

/// <summary>
/// Measures a streamed generation request (DESIGN section 10): its <c>cocoon.request</c> span is current while the
/// pipeline runs (so it can tag the model and worker), the first chunk with text records time to first token, the
/// final chunk's usage the tokens by class, and an exception its status. Only counts and ids are read, never text.
/// </summary>
public static class GenerationTelemetry
{
    /// <summary>Wraps <paramref name="source"/> (the pipeline's stream) of a <paramref name="operation"/> request.</summary>
    public static async IAsyncEnumerable<PaidGenerationChunk> MeasureAsync(
        IAsyncEnumerable<PaidGenerationChunk> source, string operation, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var request = RequestTelemetry.Start(operation);
        var outer = RequestTelemetry.Current;
        var chunks = source.GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                bool more;
                // Current for the pipeline's code that runs inside this step (each step runs in the caller's context).
                RequestTelemetry.Current = request;
                try
                {
                    more = await chunks.MoveNextAsync();
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

                if (!more)
                {
                    break;
                }

                var chunk = chunks.Current;
                if (!string.IsNullOrEmpty(chunk.Text))
                {
                    request.FirstToken();
                }

                if (chunk.Usage is { } usage)
                {
                    request.SetWorker(usage.WorkerId);
                    request.Complete(usage.PromptTokens - usage.CachedTokens, usage.CachedTokens,
                        usage.CompletionTokens - usage.ReasoningTokens, usage.ReasoningTokens);
                }

                yield return chunk;
            }
        }
        finally
        {
            // A caller that stops reading early ends the request (the pipeline settles what it took): status 499.
            request.Fail(499);
            RequestTelemetry.Current = outer;
            await chunks.DisposeAsync();
        }
    }
}
