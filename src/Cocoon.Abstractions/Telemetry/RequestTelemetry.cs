using System.Diagnostics;

namespace Cocoon.Abstractions.Telemetry;

/// <summary>
/// One client request from the service's point of view: its <c>cocoon.request</c> span, and on completion
/// <c>cocoon.requests</c>, <c>cocoon.request.duration</c>, <c>cocoon.time_to_first_token</c> and <c>cocoon.tokens</c>.
/// The model tag stays <see cref="CocoonTelemetry.None"/> until the pipeline has found the model deployed
/// (<see cref="SetModel"/>), so a client cannot grow the tag set by inventing model names.
/// </summary>
/// <remarks>
/// Unary calls of <c>IInferenceServiceGrain</c> get one from the node's grain call filter, reachable in the grain as
/// <see cref="Current"/>; a streaming pipeline starts its own with <see cref="Start"/> and calls
/// <see cref="FirstToken"/>, <see cref="Complete"/> or <see cref="Fail(int)"/>.
/// </remarks>
public sealed class RequestTelemetry : IDisposable
{
    private static readonly AsyncLocal<RequestTelemetry?> CurrentRequest = new();
    private readonly long _start = Stopwatch.GetTimestamp();
    private readonly string _operation;
    private int _finished;
    private bool _firstTokenSeen;

    private RequestTelemetry(string operation)
    {
        _operation = operation;
        Activity = CocoonTelemetry.Source.StartActivity("cocoon.request");
        Activity?.SetTag(CocoonTelemetry.OperationTag, operation);
    }

    /// <summary>The request of the current call, when one is being measured.</summary>
    public static RequestTelemetry? Current
    {
        get => CurrentRequest.Value;
        set => CurrentRequest.Value = value;
    }

    /// <summary>The request's span, when someone listens.</summary>
    public Activity? Activity { get; }

    /// <summary>The model tag: a deployed model, or <see cref="CocoonTelemetry.None"/>.</summary>
    public string Model { get; private set; } = CocoonTelemetry.None;

    /// <summary>The worker tag: the worker that served (or last tried) it, or <see cref="CocoonTelemetry.None"/>.</summary>
    public string Worker { get; private set; } = CocoonTelemetry.None;

    /// <summary>Starts measuring a request of <paramref name="operation"/> (<see cref="CocoonTelemetry.Operations"/>).</summary>
    public static RequestTelemetry Start(string operation) => new(operation);

    /// <summary>The request's model was found deployed and enabled: tag it.</summary>
    public void SetModel(string model)
    {
        Model = model;
        Activity?.SetTag(CocoonTelemetry.ModelTag, model);
    }

    /// <summary>The request went to <paramref name="workerId"/>.</summary>
    public void SetWorker(string workerId)
    {
        Worker = workerId;
        Activity?.SetTag(CocoonTelemetry.WorkerTag, workerId);
    }

    /// <summary>The first token reached the service: records <c>cocoon.time_to_first_token</c> once.</summary>
    public void FirstToken()
    {
        if (_firstTokenSeen)
        {
            return;
        }

        _firstTokenSeen = true;
        CocoonTelemetry.TimeToFirstToken.Record(Stopwatch.GetElapsedTime(_start).TotalSeconds,
            new KeyValuePair<string, object?>(CocoonTelemetry.ModelTag, Model), new KeyValuePair<string, object?>(CocoonTelemetry.WorkerTag, Worker));
        Activity?.AddEvent(new ActivityEvent("first_token"));
    }

    /// <summary>The request was served and charged for these tokens: status 200.</summary>
    public void Complete(long prompt, long cached = 0, long completion = 0, long reasoning = 0)
    {
        CocoonTelemetry.AddTokens(Model, Worker, prompt, cached, completion, reasoning);
        Finish(200);
    }

    /// <summary>The request failed with <paramref name="status"/> (an HTTP status code).</summary>
    public void Fail(int status) => Finish(status);

    /// <summary>The request failed with <paramref name="error"/>: its status if it is a <see cref="CocoonApiException"/>, 499 if cancelled, else 500.</summary>
    public void Fail(Exception error) => Finish(StatusOf(error));

    /// <summary>The HTTP status an exception of the pipeline answers with.</summary>
    public static int StatusOf(Exception error) => error switch
    {
        CocoonApiException api => api.Status,
        OperationCanceledException => 499,
        _ => 500,
    };

    /// <summary>Ends the span; a request neither completed nor failed by then counts as status 500.</summary>
    public void Dispose()
    {
        Finish(500);
        Activity?.Dispose();
    }

    private void Finish(int status)
    {
        if (Interlocked.Exchange(ref _finished, 1) == 1)
        {
            return;
        }

        var statusText = StatusText(status);
        var model = new KeyValuePair<string, object?>(CocoonTelemetry.ModelTag, Model);
        var operation = new KeyValuePair<string, object?>(CocoonTelemetry.OperationTag, _operation);
        var statusTag = new KeyValuePair<string, object?>(CocoonTelemetry.StatusTag, statusText);
        CocoonTelemetry.Requests.Add(1, operation, model, new KeyValuePair<string, object?>(CocoonTelemetry.WorkerTag, Worker), statusTag);
        CocoonTelemetry.RequestDuration.Record(Stopwatch.GetElapsedTime(_start).TotalSeconds, operation, model, statusTag);
        Activity?.SetTag(CocoonTelemetry.StatusTag, statusText);
        if (status >= 500)
        {
            Activity?.SetStatus(ActivityStatusCode.Error);
        }
    }

    // Interned strings for the usual codes; anything else is still a three-digit number, a bounded set.
    private static string StatusText(int status) => status switch
    {
        200 => "200",
        400 => "400",
        401 => "401",
        402 => "402",
        404 => "404",
        409 => "409",
        413 => "413",
        429 => "429",
        499 => "499",
        500 => "500",
        503 => "503",
        >= 100 and <= 599 => status.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => "500",
    };
}
