using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cocoon.Cli.Devnet;

/// <summary>
/// What a devnet keeps between runs in <c>DIR/state.json</c> (owner-only): its ports, so a restarted silo reclaims
/// its own membership row, and its API key.
/// </summary>
internal sealed record DevnetState
{
    [JsonPropertyName("apiKey")] public required string ApiKey { get; init; }
    [JsonPropertyName("siloPort")] public int SiloPort { get; init; }
    [JsonPropertyName("clientGatewayPort")] public int ClientGatewayPort { get; init; }
    [JsonPropertyName("postgresPort")] public int? PostgresPort { get; init; }
    [JsonPropertyName("adminPort")] public int AdminPort { get; init; }
    [JsonPropertyName("chainPort")] public int ChainPort { get; init; }

    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static DevnetState LoadOrCreate(string path)
    {
        if (File.Exists(path))
        {
            try
            {
                var state = JsonSerializer.Deserialize<DevnetState>(File.ReadAllText(path), Json);
                if (state is { ApiKey.Length: > 0 })
                {
                    return state;
                }
            }
            catch (JsonException e)
            {
                throw new DevnetException($"{path} is damaged ({e.Message}); remove it to start with new keys, or restore it.");
            }
        }

        return new DevnetState { ApiKey = "sk-cocoon-dev-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20)) };
    }

    public void Save(string path) => AtomicFile.Write(path, JsonSerializer.Serialize(this, Json), ownerOnly: true);
}

/// <summary>The devnet could not start; the message says why and what to do.</summary>
internal sealed class DevnetException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Writes files so that a reader never sees half of one, even if the process is killed mid-write.</summary>
internal static class AtomicFile
{
    public static void Write(string path, string content, bool ownerOnly = false)
    {
        var temp = path + ".tmp";
        File.WriteAllText(temp, content);
        if (ownerOnly && !OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Move(temp, path, overwrite: true);
    }
}
