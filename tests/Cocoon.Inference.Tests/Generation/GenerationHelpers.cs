using System.Text;
using Cocoon.Inference.Generation;

namespace Cocoon.Inference.Tests.Generation;

/// <summary>One completion read to the end: its text, chunks and the token ids the engine chose.</summary>
internal sealed record Completion(string Text, List<GenerationChunk> Chunks, List<int> Tokens)
{
    public GenerationChunk Last => Chunks[^1];

    public static async Task<Completion> RunAsync(TextGenerationEngine engine, string prompt, GenerationOptions options, CancellationToken cancellationToken)
    {
        var tokens = new List<int>();
        var chunks = new List<GenerationChunk>();
        var text = new StringBuilder();
        await foreach (var chunk in engine.GenerateAsync(prompt, options, tokens, cancellationToken))
        {
            chunks.Add(chunk);
            text.Append(chunk.Text);
        }

        return new Completion(text.ToString(), chunks, tokens);
    }
}
