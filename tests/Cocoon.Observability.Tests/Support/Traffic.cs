using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Cocoon.Observability.Tests.Support;

/// <summary>One answered <c>/v1/embeddings</c> request.</summary>
public sealed record EmbeddingAnswer(HttpStatusCode Status, JsonElement Body)
{
    /// <summary><c>usage.prompt_tokens</c>.</summary>
    public long PromptTokens => Body.GetProperty("usage").GetProperty("prompt_tokens").GetInt64();

    /// <summary><c>cocoon.cost_nanoton</c>.</summary>
    public long CostNanoTon => Body.GetProperty("cocoon").GetProperty("cost_nanoton").GetInt64();

    /// <summary><c>cocoon.worker</c>.</summary>
    public string Worker => Body.GetProperty("cocoon").GetProperty("worker").GetString()!;
}

/// <summary>Real HTTP traffic to the gateway.</summary>
public static class Traffic
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromMinutes(2) };

    /// <summary>POSTs <c>/v1/embeddings</c>.</summary>
    public static async Task<EmbeddingAnswer> EmbedAsync(Uri gateway, string apiKey, string model, IReadOnlyList<string> inputs, string? user = null)
    {
        using var body = new MemoryStream();
        using (var json = new Utf8JsonWriter(body))
        {
            json.WriteStartObject();
            json.WriteString("model", model);
            json.WriteStartArray("input");
            foreach (var input in inputs)
            {
                json.WriteStringValue(input);
            }

            json.WriteEndArray();
            if (user is not null)
            {
                json.WriteString("user", user);
            }

            json.WriteEndObject();
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway, "/v1/embeddings"))
        {
            Content = new ByteArrayContent(body.ToArray()) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        using var response = await Http.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        using var document = JsonDocument.Parse(text.Length == 0 ? "{}" : text);
        return new EmbeddingAnswer(response.StatusCode, document.RootElement.Clone());
    }

    /// <summary>GETs a path of an admin server: status and body.</summary>
    public static async Task<(HttpStatusCode Status, string Body)> GetAsync(Uri admin, string path)
    {
        using var response = await Http.GetAsync(new Uri(admin, path), TestContext.Current.CancellationToken);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    /// <summary>A random string that appears nowhere unless something copied it.</summary>
    public static string Marker() => "zqxmarker" + Guid.NewGuid().ToString("N")[..16] + "kvj";

    /// <summary>An UTF-8 text for the marker.</summary>
    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
