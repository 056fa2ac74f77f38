using System.Text;
using System.Text.Json.Nodes;
using Npgsql;

namespace Cocoon.Testing;

/// <summary>Grain state as the AdoNet provider stored it in PostgreSQL (JSON), for checks against what reached the database.</summary>
public static class StoredState
{
    /// <summary>The stored state of escrow account <paramref name="accountId"/> of service <paramref name="serviceId"/>.</summary>
    /// <exception cref="InvalidOperationException">No such row.</exception>
    public static async Task<JsonObject> ReadEscrowAsync(string connectionString, string serviceId, string accountId)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var read = new NpgsqlCommand(
            "SELECT payload FROM orleans_storage WHERE service_id = @s AND grain_id_extension LIKE @k AND grain_type LIKE '%escrow%'", connection);
        read.Parameters.AddWithValue("s", serviceId);
        read.Parameters.AddWithValue("k", "%" + accountId);
        var payload = (byte[]?)await read.ExecuteScalarAsync() ?? throw new InvalidOperationException($"no stored escrow row for '{accountId}'");
        return JsonNode.Parse(Encoding.UTF8.GetString(payload))!.AsObject();
    }

    /// <summary>An escrow row's remembered settlements: request id to the nanoTON charged.</summary>
    public static Dictionary<string, long> Settled(JsonObject escrow) =>
        escrow["Settled"]!.AsObject().Where(p => !p.Key.StartsWith('$')).ToDictionary(p => p.Key, p => p.Value!["ChargedNanoTon"]!.GetValue<long>());

    /// <summary>An escrow row's open reservations' request ids.</summary>
    public static List<string> Reserved(JsonObject escrow) =>
        [.. escrow["Reservations"]!.AsObject().Where(p => !p.Key.StartsWith('$')).Select(p => p.Key)];
}
