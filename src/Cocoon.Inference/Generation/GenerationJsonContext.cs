using System.Text.Json.Serialization;

namespace Cocoon.Inference.Generation;

[JsonSerializable(typeof(Dictionary<string, int>))]
internal sealed partial class GenerationJsonContext : JsonSerializerContext;
