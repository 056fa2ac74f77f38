using System.Text.Encodings.Web;
using System.Text.Json;

namespace Cocoon.Gateway;

/// <summary>How the gateway writes JSON: compact, and without HTML-safe escaping (these are API responses, not pages).</summary>
internal static class JsonWriting
{
    public static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
