namespace Cocoon.Abstractions;

/// <summary>
/// A request refused for a reason the caller should see, carrying what the OpenAI error object needs: the HTTP
/// status, the error type and code, and the request parameter at fault. Grains throw it; the HTTP gateway turns it
/// into <c>{"error": {...}}</c>; <c>Cocoon.Client</c> callers catch it. Messages never contain request content.
/// </summary>
[GenerateSerializer, Alias("cocoon.CocoonApiException")]
public sealed class CocoonApiException : Exception
{
    public CocoonApiException()
    {
    }

    public CocoonApiException(string message) : base(message)
    {
    }

    public CocoonApiException(string message, Exception inner) : base(message, inner)
    {
    }

    /// <summary>Creates the exception.</summary>
    public CocoonApiException(int status, string code, string message, string? param = null, string? type = null) : base(message)
    {
        Status = status;
        Code = code;
        Param = param;
        Type = type ?? (status switch
        {
            401 => "authentication_error",
            402 => "insufficient_quota",
            404 => "invalid_request_error",
            413 => "invalid_request_error",
            429 => "rate_limit_error",
            >= 500 => "server_error",
            _ => "invalid_request_error",
        });
    }

    /// <summary>HTTP status.</summary>
    [Id(0)] public int Status { get; init; } = 500;

    /// <summary>Machine-readable code (<c>invalid_api_key</c>, <c>model_not_found</c>, <c>input_too_long</c>, ...).</summary>
    [Id(1)] public string Code { get; init; } = "internal_error";

    /// <summary>The request parameter at fault, if any.</summary>
    [Id(2)] public string? Param { get; init; }

    /// <summary>OpenAI error type (<c>invalid_request_error</c>, <c>authentication_error</c>, ...).</summary>
    [Id(3)] public string Type { get; init; } = "server_error";

    /// <summary>Seconds the caller should wait before retrying (HTTP <c>Retry-After</c>), when the refusal says.</summary>
    [Id(4)] public int? RetryAfterSeconds { get; init; }
}
