using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using Cocoon.Ton.Boc;
using Cocoon.Ton.Cells;

namespace Cocoon.Ton.Toncenter;

/// <summary>What a TVM stack entry holds.</summary>
public enum TvmStackKind
{
    /// <summary>An integer (257-bit signed in TVM).</summary>
    Number,

    /// <summary>A cell.</summary>
    Cell,

    /// <summary>A slice (sent and received as the cell it covers).</summary>
    Slice,

    /// <summary>A builder (received as a cell).</summary>
    Builder,

    /// <summary>Null.</summary>
    Null,

    /// <summary>A tuple or list of entries.</summary>
    Tuple,
}

/// <summary>
/// A TVM stack entry in toncenter v2's encoding: requests use <c>["num", "0x…"]</c>, <c>["tvm.Cell", base64]</c>,
/// <c>["tvm.Slice", base64]</c>; answers use <c>["num", "0x…"]</c>, <c>["cell", {bytes}]</c>, <c>["slice", {bytes}]</c>,
/// and <c>["tuple"|"list", {elements: [tvm.stackEntry…]}]</c> (ton-org/ton src/client/TonClient.ts parseStack).
/// </summary>
public sealed record TvmStackEntry(TvmStackKind Kind, BigInteger Number = default, Cell? Cell = null, IReadOnlyList<TvmStackEntry>? Items = null)
{
    /// <summary>An integer entry.</summary>
    public static TvmStackEntry FromNumber(BigInteger value) => new(TvmStackKind.Number, value);

    /// <summary>A cell entry.</summary>
    public static TvmStackEntry FromCell(Cell cell) => new(TvmStackKind.Cell, Cell: cell);

    /// <summary>A slice entry over a whole cell.</summary>
    public static TvmStackEntry FromSlice(Cell cell) => new(TvmStackKind.Slice, Cell: cell);

    internal JsonArray ToRequestJson() => Kind switch
    {
        TvmStackKind.Number => new JsonArray("num", (Number.Sign < 0 ? "-0x" : "0x") + BigInteger.Abs(Number).ToString("x", CultureInfo.InvariantCulture).TrimStart('0').PadLeft(1, '0')),
        TvmStackKind.Cell => new JsonArray("tvm.Cell", Convert.ToBase64String(BagOfCells.Serialize(Cell!))),
        TvmStackKind.Slice => new JsonArray("tvm.Slice", Convert.ToBase64String(BagOfCells.Serialize(Cell!))),
        _ => throw new NotSupportedException($"toncenter v2 runGetMethod does not take {Kind} arguments"),
    };

    /// <summary>Reads an answer's stack entry.</summary>
    /// <exception cref="FormatException">A missing or null field, or an unknown entry (never a NullReferenceException).</exception>
    internal static TvmStackEntry FromResponseJson(JsonNode? node)
    {
        if (node is JsonArray pair && pair.Count == 2)
        {
            var tag = Required(pair[0], "stack entry type").GetValue<string>();
            var value = pair[1];
            return tag switch
            {
                "num" or "number" or "int" => FromNumber(ToncenterClient.ParseNumber(Required(value, "number").GetValue<string>())),
                "null" => new TvmStackEntry(TvmStackKind.Null),
                "cell" or "tvm.Cell" => new TvmStackEntry(TvmStackKind.Cell, Cell: CellOf(value)),
                "slice" or "tvm.Slice" => new TvmStackEntry(TvmStackKind.Slice, Cell: CellOf(value)),
                "builder" => new TvmStackEntry(TvmStackKind.Builder, Cell: CellOf(value)),
                "tuple" or "list" => new TvmStackEntry(TvmStackKind.Tuple, Items: Elements(Required(value, tag))),
                _ => throw new FormatException($"unknown stack entry type '{tag}'"),
            };
        }

        return FromTypedJson(node);
    }

    // Nested entries come in tonlib's typed form: {"@type": "tvm.stackEntryNumber", "number": {"number": "…"}}.
    private static TvmStackEntry FromTypedJson(JsonNode? node)
    {
        var entry = Required(node, "stack entry");
        var type = entry["@type"]?.GetValue<string>();
        return type switch
        {
            "tvm.stackEntryNumber" => FromNumber(ToncenterClient.ParseNumber(Required(Required(entry["number"], "number")["number"], "number").GetValue<string>())),
            "tvm.stackEntryCell" => new TvmStackEntry(TvmStackKind.Cell, Cell: BagOfCells.ParseBase64(Required(Required(entry["cell"], "cell")["bytes"], "bytes").GetValue<string>())),
            "tvm.stackEntrySlice" => new TvmStackEntry(TvmStackKind.Slice, Cell: BagOfCells.ParseBase64(Required(Required(entry["slice"], "slice")["bytes"], "bytes").GetValue<string>())),
            "tvm.stackEntryTuple" => new TvmStackEntry(TvmStackKind.Tuple, Items: Elements(Required(entry["tuple"], "tuple"))),
            "tvm.stackEntryList" => new TvmStackEntry(TvmStackKind.Tuple, Items: Elements(Required(entry["list"], "list"))),
            _ => throw new FormatException($"unknown stack entry {entry.ToJsonString()}"),
        };
    }

    private static List<TvmStackEntry> Elements(JsonNode tuple) => (tuple["elements"]?.AsArray() ?? []).Select(FromTypedJson).ToList();

    private static Cell CellOf(JsonNode? value) => value switch
    {
        JsonValue v => BagOfCells.ParseBase64(v.GetValue<string>()),
        JsonObject o => BagOfCells.ParseBase64(Required(o["bytes"], "bytes").GetValue<string>()),
        _ => throw new FormatException("stack cell entry without bytes"),
    };

    private static JsonNode Required(JsonNode? node, string what) => node ?? throw new FormatException($"stack entry: {what} is missing or null");
}
