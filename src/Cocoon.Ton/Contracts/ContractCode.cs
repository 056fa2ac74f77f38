using System.Text.Json;
using Cocoon.Ton.Boc;
using Cocoon.Ton.Cells;

namespace Cocoon.Ton.Contracts;

/// <summary>
/// The compiled Cocoon contracts (src/Cocoon.Contracts/build/*.json, embedded at build time so there is one source
/// of truth): code cells whose representation hash is checked against the build's <c>codeHashHex</c> on load.
/// </summary>
public static class ContractCode
{
    private static readonly Lazy<Cell> RootCode = new(() => Load("root"));
    private static readonly Lazy<Cell> ClientCode = new(() => Load("client"));
    private static readonly Lazy<Cell> WorkerCode = new(() => Load("worker"));

    /// <summary>The root registry's code (<c>root.tolk</c>).</summary>
    public static Cell Root => RootCode.Value;

    /// <summary>The client escrow's code (<c>client.tolk</c>).</summary>
    public static Cell Client => ClientCode.Value;

    /// <summary>The worker contract's code (<c>worker.tolk</c>).</summary>
    public static Cell Worker => WorkerCode.Value;

    /// <summary>Reads a build file (<c>{name, tolkVersion, codeBoc64, codeHashHex}</c>) and checks its hash.</summary>
    /// <exception cref="InvalidOperationException">The file is missing or its code does not hash to <c>codeHashHex</c>.</exception>
    public static Cell Load(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var resource = $"Cocoon.Ton.Contracts.{name}.json";
        using var stream = typeof(ContractCode).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"{resource} is not embedded in {typeof(ContractCode).Assembly.GetName().Name}");
        return FromBuildJson(stream, resource);
    }

    /// <summary>Reads a build file's JSON and checks its hash.</summary>
    public static Cell FromBuildJson(Stream json, string what)
    {
        using var doc = JsonDocument.Parse(json);
        var code = BagOfCells.ParseBase64(doc.RootElement.GetProperty("codeBoc64").GetString() ?? string.Empty);
        var expected = doc.RootElement.GetProperty("codeHashHex").GetString() ?? string.Empty;
        if (!string.Equals(Convert.ToHexString(code.Hash()), expected, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"{what}: the code does not hash to {expected}");
        }

        return code;
    }
}
