using System.Security.Cryptography;
using System.Text;

namespace Cocoon.Attestation.Providers;

/// <summary>The measurements a simulated TD reports (48 bytes each), so a devnet can exercise image-hash policies.</summary>
public sealed record SimulatedTdMeasurements
{
    public required byte[] MrTd { get; init; }

    public byte[] MrConfigId { get; init; } = new byte[48];

    public byte[] MrOwner { get; init; } = new byte[48];

    public byte[] MrOwnerConfig { get; init; } = new byte[48];

    public required byte[] Rtmr0 { get; init; }

    public required byte[] Rtmr1 { get; init; }

    public required byte[] Rtmr2 { get; init; }

    public byte[] Rtmr3 { get; init; } = new byte[48];

    /// <summary>Set TDATTRIBUTES.DEBUG, to test that policies refuse debug TDs.</summary>
    public bool Debug { get; init; }

    /// <summary>
    /// TDATTRIBUTES to report instead (8 bytes, the report's byte order), to test TD attribute policies; null:
    /// SEPT_VE_DISABLE as real Cocoon TDs set it, plus DEBUG when <see cref="Debug"/>.
    /// </summary>
    public byte[]? TdAttributes { get; init; }

    /// <summary>XFAM to report (8 bytes); null: all zero.</summary>
    public byte[]? Xfam { get; init; }

    /// <summary>Deterministic measurements derived from <paramref name="image"/> (SHA-384 of labelled names).</summary>
    public static SimulatedTdMeasurements ForImage(string image) => new()
    {
        MrTd = SHA384.HashData(Encoding.UTF8.GetBytes("cocoon-simulated/mrtd/" + image)),
        Rtmr0 = SHA384.HashData(Encoding.UTF8.GetBytes("cocoon-simulated/rtmr0/" + image)),
        Rtmr1 = SHA384.HashData(Encoding.UTF8.GetBytes("cocoon-simulated/rtmr1/" + image)),
        Rtmr2 = SHA384.HashData(Encoding.UTF8.GetBytes("cocoon-simulated/rtmr2/" + image)),
    };
}
