using System.Text.Json;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Cluster;
using Cocoon.Abstractions.Inference;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Cocoon.Gateway;

/// <summary>The gateway's HTTP endpoints (OpenAI-compatible, DESIGN section 4).</summary>
public static class GatewayEndpoints
{
    private static readonly TimeSpan HealthTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Maps <c>GET /healthz</c>, <c>GET /v1/attestation</c>, <c>GET /v1/models</c>, <c>POST /v1/embeddings</c>,
    /// <c>POST /v1/chat/completions</c> and <c>POST /v1/completions</c>. Every refusal is an OpenAI
    /// error object; nothing of a request's content is logged.
    /// </summary>
    public static IEndpointRouteBuilder MapCocoonGateway(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", async (IGrainFactory grains, CancellationToken cancellationToken) =>
        {
            try
            {
                var info = await grains.GetGrain<INodeInfoGrain>("healthz").GetInfoAsync().WaitAsync(HealthTimeout, cancellationToken);
                return Results.Json(new HealthResponse("ok", info.SiloName, info.Roles, info.Version));
            }
            catch (Exception e) when (e is TimeoutException or OrleansException)
            {
                return Results.Json(new HealthResponse("unavailable", null, null, null), statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        });

        endpoints.MapGet("/v1/models", context => Guarded(context, async (grains, apiKey) =>
        {
            var models = await grains.GetGrain<IInferenceServiceGrain>(0).ListModelsAsync(apiKey);
            context.Response.ContentType = "application/json";
            await using var writer = new Utf8JsonWriter(context.Response.Body, JsonWriting.Options);
            writer.WriteStartObject();
            writer.WriteString("object", "list");
            writer.WriteStartArray("data");
            foreach (var model in models)
            {
                writer.WriteStartObject();
                writer.WriteString("id", model.Name);
                writer.WriteString("object", "model");
                writer.WriteNumber("created", model.CreatedAt.ToUnixTimeSeconds());
                writer.WriteString("owned_by", "cocoon");
                writer.WriteStartObject("cocoon");
                writer.WriteString("kind", model.Kind);
                writer.WriteNumber("workers", model.LiveWorkers);
                writer.WriteStartArray("worker_loads");
                foreach (var worker in model.Workers)
                {
                    writer.WriteStartObject();
                    writer.WriteNumber("coefficient", worker.Coefficient);
                    writer.WriteNumber("running", worker.Running);
                    writer.WriteNumber("capacity", worker.Capacity);
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
                writer.WriteNumber("context_length", model.ContextLength);
                if (model.Dimensions > 0)
                {
                    writer.WriteNumber("dimensions", model.Dimensions);
                }

                writer.WriteEndObject();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
            await writer.FlushAsync(context.RequestAborted);
        }));

        endpoints.MapPost("/v1/embeddings", context => Guarded(context, async (grains, apiKey) =>
        {
            // A bad key is a 401 whatever the body holds, as with OpenAI. The service grain checks the key anyway, so
            // the gateway asks the key's grain itself only when the body is refused, and the happy path pays one check.
            Authentication.RequirePresent(apiKey);
            JsonDocument body;
            EmbeddingsEndpoint.Parsed request;
            try
            {
                body = await RequestBody.ReadObjectAsync(context);
                request = ParseOrDispose(body);
            }
            catch (CocoonApiException)
            {
                await Authentication.RequireAsync(grains, apiKey);
                throw;
            }

            using var _ = body;
            var response = await grains.GetGrain<IInferenceServiceGrain>(0).EmbedAsync(
                apiKey,
                new EmbeddingRequest { Model = request.Model, Inputs = request.Inputs, Truncate = request.Truncate, MaxCoefficient = request.MaxCoefficient },
                context.RequestAborted);
            await EmbeddingsEndpoint.WriteAsync(context, request, response);
        }));

        endpoints.MapPost("/v1/chat/completions", context => Guarded(context, (grains, apiKey) => ChatCompletionsEndpoint.HandleAsync(context, grains, apiKey)));
        endpoints.MapPost("/v1/completions", context => Guarded(context, (grains, apiKey) => CompletionsEndpoint.HandleAsync(context, grains, apiKey)));

        endpoints.MapGet("/v1/attestation", AttestationEndpoint.HandleAsync);
        endpoints.MapGet("/v1/attestation/workers/{workerId}", context => Guarded(context,
            (grains, _) => AttestationEndpoint.HandleWorkerAsync(context, grains, context.Request.RouteValues["workerId"] as string ?? ""), authenticated: false));

        endpoints.MapFallback(context => OpenAiErrors.WriteAsync(context, StatusCodes.Status404NotFound, "not_found",
            $"Unknown endpoint: {context.Request.Method} {context.Request.Path}."));
        return endpoints;
    }

    private static EmbeddingsEndpoint.Parsed ParseOrDispose(JsonDocument body)
    {
        try
        {
            return EmbeddingsEndpoint.Parse(body.RootElement);
        }
        catch
        {
            body.Dispose();
            throw;
        }
    }

    private static async Task Guarded(HttpContext context, Func<IGrainFactory, string, Task> handler, bool authenticated = true)
    {
        var grains = context.RequestServices.GetService(typeof(IGrainFactory)) as IGrainFactory
            ?? throw new InvalidOperationException("The gateway needs the silo's IGrainFactory.");
        try
        {
            await handler(grains, authenticated ? Authentication.BearerKey(context) : "");
        }
        catch (CocoonApiException e)
        {
            await OpenAiErrors.WriteAsync(context, e);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        catch (Exception e) when (e is OrleansException or TimeoutException)
        {
            await OpenAiErrors.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "cluster_unavailable",
                "The Cocoon cluster did not answer; retry shortly.", type: "server_error");
        }
        catch (Exception e) when (StorageFailures.IsStorageFailure(e))
        {
            // A database failure outside a grain call (a grain whose state could not be read at activation); those inside
            // one arrive already as storage_unavailable. Nothing was committed that its caller would not see.
            LogFailure(context, e);
            await OpenAiErrors.WriteAsync(context, StorageFailures.Unavailable());
        }
        catch (Exception e) when (e is not (OutOfMemoryException or BadHttpRequestException) && !context.RequestAborted.IsCancellationRequested)
        {
            // Kestrel answers a bad or stalled request itself (BadHttpRequestException: 400, 408, 413); a client that went
            // away needs no answer. Anything else is a bug, but the client still gets an OpenAI error object rather than an empty 500.
            LogFailure(context, e);
            await OpenAiErrors.WriteAsync(context, StatusCodes.Status500InternalServerError, "internal_error",
                $"The request failed inside the Cocoon cluster ({e.GetType().Name}).", type: "server_error");
        }
    }

    // The exception only, never the request: no prompt or output reaches a log.
    private static void LogFailure(HttpContext context, Exception e) =>
        (context.RequestServices.GetService(typeof(Microsoft.Extensions.Logging.ILoggerFactory)) as Microsoft.Extensions.Logging.ILoggerFactory)?
            .CreateLogger("Cocoon.Gateway").LogRequestFailed(context.Request.Path.Value ?? "", e);

    private sealed record HealthResponse(string Status, string? Silo, string? Roles, string? Version);
}

/// <summary>Bearer API keys.</summary>
internal static class Authentication
{
    public static string BearerKey(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : "";
    }

    public static void RequirePresent(string apiKey)
    {
        if (apiKey.Length == 0)
        {
            throw new CocoonApiException(401, "missing_api_key", "You didn't provide an API key: send it as 'Authorization: Bearer KEY'.");
        }
    }

    public static async Task RequireAsync(IGrainFactory grains, string apiKey)
    {
        RequirePresent(apiKey);

        if (await grains.GetGrain<Abstractions.Accounts.IApiKeyGrain>(Abstractions.Accounts.ApiKeys.Hash(apiKey)).ResolveAsync() is null)
        {
            throw new CocoonApiException(401, "invalid_api_key", "Incorrect API key provided.");
        }
    }
}

/// <summary>The gateway's log messages.</summary>
internal static partial class GatewayLog
{
    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Error, Message = "Request to {Path} failed")]
    public static partial void LogRequestFailed(this Microsoft.Extensions.Logging.ILogger logger, string path, Exception error);
}
