using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Cocoon.Gateway;

/// <summary>
/// Server-sent events as OpenAI streams them: <c>data: {json}\n\n</c> per event, flushed at once, and <c>data: [DONE]\n\n</c>
/// at the end. The response is started (200, <c>text/event-stream</c>) on the first event, so refusals before it are still
/// plain error objects.
/// </summary>
internal sealed class SseWriter(HttpContext context)
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);

    /// <summary>Whether the first event has been sent (the status and headers are gone).</summary>
    public bool Started { get; private set; }

    /// <summary>Sends one event whose data is the JSON <paramref name="write"/> produces.</summary>
    public async Task WriteAsync(Action<Utf8JsonWriter> write, CancellationToken cancellationToken)
    {
        _buffer.ResetWrittenCount();
        _buffer.Write(DataPrefix);
        using (var writer = new Utf8JsonWriter(_buffer, JsonWriting.Options))
        {
            write(writer);
        }

        _buffer.Write(EventEnd);
        await SendAsync(_buffer.WrittenMemory, cancellationToken);
    }

    /// <summary>Sends the <c>[DONE]</c> sentinel.</summary>
    public Task DoneAsync(CancellationToken cancellationToken) => SendAsync(Done, cancellationToken);

    private async Task SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        if (!Started)
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "text/event-stream; charset=utf-8";
            context.Response.Headers.CacheControl = "no-cache";
            context.Response.Headers["X-Accel-Buffering"] = "no";
            Started = true;
        }

        await context.Response.Body.WriteAsync(bytes, cancellationToken);
        await context.Response.Body.FlushAsync(cancellationToken);
    }
}
