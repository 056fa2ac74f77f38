namespace Cocoon.Inference;

/// <summary>
/// The one exception type the inference library throws for a request or a model it refuses. <see cref="Code"/> is a
/// stable machine-readable code (see <see cref="InferenceErrorCodes"/>) that the gateway maps to an OpenAI-style error
/// object; <see cref="Param"/> names the request parameter at fault. Messages never contain prompt text.
/// </summary>
public sealed class InferenceException : Exception
{
    public InferenceException()
        : this(InferenceErrorCodes.InternalError, "Inference failed.")
    {
    }

    public InferenceException(string message)
        : this(InferenceErrorCodes.InternalError, message)
    {
    }

    public InferenceException(string message, Exception innerException)
        : this(InferenceErrorCodes.InternalError, message, innerException: innerException)
    {
    }

    public InferenceException(string code, string message, string? param = null, int? inputIndex = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
        Param = param;
        InputIndex = inputIndex;
    }

    /// <summary>A stable code from <see cref="InferenceErrorCodes"/>.</summary>
    public string Code { get; }

    /// <summary>The request parameter at fault (for example <c>input</c>), or null when no parameter is.</summary>
    public string? Param { get; }

    /// <summary>The index of the offending input within the request, when one input is at fault.</summary>
    public int? InputIndex { get; }

    /// <summary>True when the caller sent something the model refuses (an HTTP 400), false for a server-side failure.</summary>
    public bool IsClientError => Code is InferenceErrorCodes.EmptyInput or InferenceErrorCodes.InputTooLong or InferenceErrorCodes.InvalidRequest
        or InferenceErrorCodes.ContextLengthExceeded;
}

/// <summary>The codes <see cref="InferenceException.Code"/> takes.</summary>
public static class InferenceErrorCodes
{
    /// <summary>No inputs, or an input that holds no token (empty or only whitespace/control characters).</summary>
    public const string EmptyInput = "empty_input";

    /// <summary>An input longer than the model's sequence limit, and the caller did not ask for truncation.</summary>
    public const string InputTooLong = "input_too_long";

    /// <summary>A generation prompt whose tokens plus <c>max_tokens</c> do not fit the model's context (OpenAI's code).</summary>
    public const string ContextLengthExceeded = "context_length_exceeded";

    /// <summary>A malformed request (null input, bad option).</summary>
    public const string InvalidRequest = "invalid_request";

    /// <summary>A model file is missing, or its bytes do not match the SHA-256 in its manifest or the deployment.</summary>
    public const string ModelIntegrity = "model_integrity";

    /// <summary>A manifest that cannot be read or that describes a model this library cannot run.</summary>
    public const string InvalidManifest = "invalid_manifest";

    /// <summary>Too many requests are already waiting; the caller may retry elsewhere.</summary>
    public const string Overloaded = "engine_overloaded";

    /// <summary>The engine was shut down while the request waited.</summary>
    public const string EngineStopped = "engine_stopped";

    /// <summary>The runtime failed while running a batch that held this request.</summary>
    public const string InternalError = "inference_failed";
}
